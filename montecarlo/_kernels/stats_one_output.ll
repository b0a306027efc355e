; stats_one_output.ll -- statistics of one contiguous float64 vector x[0..n-1], n >= 1.
; out[0..5] = mean, m2, m3, m4, min, max.  Two passes over x, all 32-lane
; accumulators held in registers:
;   pass 1: s += x (lane sums), lo/hi = running min/max  -> mean = tree(s) / n
;   pass 2: d = x - mean; d2 = d*d; a2 += d2; a3 += d2*d; a4 += d2*d2
; (min/max sit in pass 1, which is latency bound and has spare slots, so that
; pass 2's 12 vector accumulators fit in registers.)
define void @one_output(ptr noalias readonly %x, i64 %n, ptr noalias %out) nounwind {
entry:
  %base = and i64 %n, -32
  %r = sub i64 %n, %base
  br label %p1
p1:                                     ; pass 1: lane sums, min, max
  %i = phi i64 [ 0, %entry ], [ %i.1, %p1.body ]
  %s = phi <32 x double> [ zeroinitializer, %entry ], [ %s.1, %p1.body ]
  %lo = phi <32 x double> [ splat (double 0x7FF0000000000000), %entry ], [ %lo.1, %p1.body ]
  %hi = phi <32 x double> [ splat (double 0xFFF0000000000000), %entry ], [ %hi.1, %p1.body ]
  %p1.more = icmp ult i64 %i, %base
  br i1 %p1.more, label %p1.body, label %p1.tail
p1.body:
  %pv = getelementptr inbounds double, ptr %x, i64 %i
  %v = load <32 x double>, ptr %pv, align 8
  %s.1 = fadd <32 x double> %s, %v
  %lo.1 = call <32 x double> @vmin(<32 x double> %lo, <32 x double> %v)
  %hi.1 = call <32 x double> @vmax(<32 x double> %hi, <32 x double> %v)
  %i.1 = add nuw i64 %i, 32
  br label %p1
p1.tail:
  %mask = call <32 x i1> @lanes_below(i64 %r)
  %pt = getelementptr inbounds double, ptr %x, i64 %base
  %t = call <32 x double> @llvm.masked.load.v32f64.p0(ptr %pt, i32 8, <32 x i1> %mask, <32 x double> splat (double -0.0))
  %s.t = fadd <32 x double> %s, %t
  %tlo = select <32 x i1> %mask, <32 x double> %t, <32 x double> splat (double 0x7FF0000000000000)
  %thi = select <32 x i1> %mask, <32 x double> %t, <32 x double> splat (double 0xFFF0000000000000)
  %lo.t = call <32 x double> @vmin(<32 x double> %lo, <32 x double> %tlo)
  %hi.t = call <32 x double> @vmax(<32 x double> %hi, <32 x double> %thi)
  %sum = call double @tree32(<32 x double> %s.t)
  %nf = uitofp i64 %n to double
  %mean = fdiv double %sum, %nf
  %bmean = call <32 x double> @splat(double %mean)
  br label %p2
p2:                                     ; pass 2: powers of deviations
  %j = phi i64 [ 0, %p1.tail ], [ %j.1, %p2.body ]
  %a2 = phi <32 x double> [ zeroinitializer, %p1.tail ], [ %a2.1, %p2.body ]
  %a3 = phi <32 x double> [ zeroinitializer, %p1.tail ], [ %a3.1, %p2.body ]
  %a4 = phi <32 x double> [ zeroinitializer, %p1.tail ], [ %a4.1, %p2.body ]
  %p2.more = icmp ult i64 %j, %base
  br i1 %p2.more, label %p2.body, label %p2.tail
p2.body:
  %pw = getelementptr inbounds double, ptr %x, i64 %j
  %w = load <32 x double>, ptr %pw, align 8
  %d = fsub <32 x double> %w, %bmean
  %d2 = fmul <32 x double> %d, %d
  %d3 = fmul <32 x double> %d2, %d
  %d4 = fmul <32 x double> %d2, %d2
  %a2.1 = fadd <32 x double> %a2, %d2
  %a3.1 = fadd <32 x double> %a3, %d3
  %a4.1 = fadd <32 x double> %a4, %d4
  %j.1 = add nuw i64 %j, 32
  br label %p2
p2.tail:
  %td = fsub <32 x double> %t, %bmean
  %td2 = fmul <32 x double> %td, %td
  %td3 = fmul <32 x double> %td2, %td
  %td4 = fmul <32 x double> %td2, %td2
  %e2 = select <32 x i1> %mask, <32 x double> %td2, <32 x double> splat (double -0.0)
  %e3 = select <32 x i1> %mask, <32 x double> %td3, <32 x double> splat (double -0.0)
  %e4 = select <32 x i1> %mask, <32 x double> %td4, <32 x double> splat (double -0.0)
  %a2.t = fadd <32 x double> %a2, %e2
  %a3.t = fadd <32 x double> %a3, %e3
  %a4.t = fadd <32 x double> %a4, %e4
  %m2 = call double @tree32(<32 x double> %a2.t)
  %m3 = call double @tree32(<32 x double> %a3.t)
  %m4 = call double @tree32(<32 x double> %a4.t)
  %mn = call double @min_of(<32 x double> %lo.t)
  %mx = call double @max_of(<32 x double> %hi.t)
  %mn0 = fadd double %mn, 0.0
  %mx0 = fadd double %mx, 0.0
  store double %mean, ptr %out, align 8
  %o1 = getelementptr inbounds double, ptr %out, i64 1
  store double %m2, ptr %o1, align 8
  %o2 = getelementptr inbounds double, ptr %out, i64 2
  store double %m3, ptr %o2, align 8
  %o3 = getelementptr inbounds double, ptr %out, i64 3
  store double %m4, ptr %o3, align 8
  %o4 = getelementptr inbounds double, ptr %out, i64 4
  store double %mn0, ptr %o4, align 8
  %o5 = getelementptr inbounds double, ptr %out, i64 5
  store double %mx0, ptr %o5, align 8
  ret void
}
