; stats_one_output.ll -- statistics of one contiguous float64 vector x[0..n-1], n >= 1.
; out[0..5] = mean, m2, m3, m4, min, max.  Two passes over x, all 32-lane
; accumulators held in registers:
;   pass 1: s += x (lane sums), lo/hi = running min/max  -> mean = tree(s) / n
;   pass 2: d = x - mean; d2 = d*d; a2 += d2; a3 += d2*d; a4 += d2*d2
; (min/max sit in pass 1, which is latency bound and has spare slots, so that
; pass 2's 12 vector accumulators fit in registers.)
; Pass 1's min/max are plain comparisons, which skip a NaN; a NaN in x always
; reaches its lane's sum, so when a lane sum is NaN (a NaN in x, or inf - inf)
; min/max are taken again with the NaN-keeping @vmin/@vmax (rare: such a batch
; fails the run).
define void @one_output(ptr noalias readonly %x, i64 %n, ptr noalias %out) nounwind noinline {
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
  %lo.1 = call <32 x double> @vmin_plain(<32 x double> %lo, <32 x double> %v)
  %hi.1 = call <32 x double> @vmax_plain(<32 x double> %hi, <32 x double> %v)
  %i.1 = add nuw i64 %i, 32
  br label %p1
p1.tail:
  %mask = call <32 x i1> @lanes_below(i64 %r)
  %pt = getelementptr inbounds double, ptr %x, i64 %base
  %t = call <32 x double> @llvm.masked.load.v32f64.p0(ptr %pt, i32 8, <32 x i1> %mask, <32 x double> splat (double -0.0))
  %s.t = fadd <32 x double> %s, %t
  %tlo = select <32 x i1> %mask, <32 x double> %t, <32 x double> splat (double 0x7FF0000000000000)
  %thi = select <32 x i1> %mask, <32 x double> %t, <32 x double> splat (double 0xFFF0000000000000)
  %sum = call double @tree32(<32 x double> %s.t)
  %nf = uitofp i64 %n to double
  %mean = fdiv double %sum, %nf
  %bmean = call <32 x double> @splat(double %mean)
  %s.nan = fcmp uno <32 x double> %s.t, %s.t
  %any.nan = call i1 @llvm.vector.reduce.or.v32i1(<32 x i1> %s.nan)
  br i1 %any.nan, label %nan, label %plain
plain:
  %lo.p = call <32 x double> @vmin_plain(<32 x double> %lo, <32 x double> %tlo)
  %hi.p = call <32 x double> @vmax_plain(<32 x double> %hi, <32 x double> %thi)
  br label %p2
nan:                                    ; min/max again, keeping NaN
  %k = phi i64 [ 0, %p1.tail ], [ %k.1, %nan.body ]
  %lon = phi <32 x double> [ splat (double 0x7FF0000000000000), %p1.tail ], [ %lon.1, %nan.body ]
  %hin = phi <32 x double> [ splat (double 0xFFF0000000000000), %p1.tail ], [ %hin.1, %nan.body ]
  %nan.more = icmp ult i64 %k, %base
  br i1 %nan.more, label %nan.body, label %nan.tail
nan.body:
  %pn = getelementptr inbounds double, ptr %x, i64 %k
  %vn = load <32 x double>, ptr %pn, align 8
  %lon.1 = call <32 x double> @vmin(<32 x double> %lon, <32 x double> %vn)
  %hin.1 = call <32 x double> @vmax(<32 x double> %hin, <32 x double> %vn)
  %k.1 = add nuw i64 %k, 32
  br label %nan
nan.tail:
  %lo.n = call <32 x double> @vmin(<32 x double> %lon, <32 x double> %tlo)
  %hi.n = call <32 x double> @vmax(<32 x double> %hin, <32 x double> %thi)
  br label %p2
p2:                                     ; pass 2: powers of deviations
  %j = phi i64 [ 0, %plain ], [ 0, %nan.tail ], [ %j.1, %p2.body ]
  %a2 = phi <32 x double> [ zeroinitializer, %plain ], [ zeroinitializer, %nan.tail ], [ %a2.1, %p2.body ]
  %a3 = phi <32 x double> [ zeroinitializer, %plain ], [ zeroinitializer, %nan.tail ], [ %a3.1, %p2.body ]
  %a4 = phi <32 x double> [ zeroinitializer, %plain ], [ zeroinitializer, %nan.tail ], [ %a4.1, %p2.body ]
  %lo.t = phi <32 x double> [ %lo.p, %plain ], [ %lo.n, %nan.tail ], [ %lo.t, %p2.body ]
  %hi.t = phi <32 x double> [ %hi.p, %plain ], [ %hi.n, %nan.tail ], [ %hi.t, %p2.body ]
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

; fold_column -- the next batch x[0..n-1] of a block folded into the block's
; running state, as montecarlo.stats.shape.OneOutputFold folds it in Python:
; the batch's statistics (@one_output), then Chan's update of the moments
; (merge_one) and Pebay's of the shape row (merge_rows), every operation the
; Python code rounds, in its order (Python evaluates a + b + c * d as
; (a + b) + (c * d)).
;   state[0..8] = count, mean, comoment, then the shape row: mean, m2, m3, m4,
;   min, max; count = 0 means no batch yet.
; The caller keeps count * n below 2^53, so that the products of counts are
; exact, as Python's integers make them. Returns whether the batch's m2 is
; finite (a NaN or an infinity in the batch always reaches it). Not inlined,
; nor @one_output into it: one copy of each compiles faster, and a call per
; batch costs nothing.
define i1 @fold_column(ptr noalias %state, ptr noalias readonly %x, i64 %n) nounwind noinline {
entry:
  %b = alloca [6 x double], align 8
  call void @one_output(ptr %x, i64 %n, ptr %b)
  %mb = load double, ptr %b, align 8
  %b1 = getelementptr inbounds double, ptr %b, i64 1
  %m2b = load double, ptr %b1, align 8
  %b2 = getelementptr inbounds double, ptr %b, i64 2
  %m3b = load double, ptr %b2, align 8
  %b3 = getelementptr inbounds double, ptr %b, i64 3
  %m4b = load double, ptr %b3, align 8
  %b4 = getelementptr inbounds double, ptr %b, i64 4
  %lob = load double, ptr %b4, align 8
  %b5 = getelementptr inbounds double, ptr %b, i64 5
  %hib = load double, ptr %b5, align 8
  %s1 = getelementptr inbounds double, ptr %state, i64 1
  %s2 = getelementptr inbounds double, ptr %state, i64 2
  %s3 = getelementptr inbounds double, ptr %state, i64 3
  %s4 = getelementptr inbounds double, ptr %state, i64 4
  %s5 = getelementptr inbounds double, ptr %state, i64 5
  %s6 = getelementptr inbounds double, ptr %state, i64 6
  %s7 = getelementptr inbounds double, ptr %state, i64 7
  %s8 = getelementptr inbounds double, ptr %state, i64 8
  %na = load double, ptr %state, align 8
  %nb = uitofp i64 %n to double
  %m2b.abs = call double @llvm.fabs.f64(double %m2b)
  %finite = fcmp olt double %m2b.abs, 0x7FF0000000000000
  %first = fcmp oeq double %na, 0.0
  br i1 %first, label %set, label %merge
set:                                    ; the block's first batch: its statistics as they are
  store double %nb, ptr %state, align 8
  store double %mb, ptr %s1, align 8
  store double %m2b, ptr %s2, align 8
  store double %mb, ptr %s3, align 8
  store double %m2b, ptr %s4, align 8
  store double %m3b, ptr %s5, align 8
  store double %m4b, ptr %s6, align 8
  store double %lob, ptr %s7, align 8
  store double %hib, ptr %s8, align 8
  ret i1 %finite
merge:
  %ma = load double, ptr %s1, align 8
  %ca = load double, ptr %s2, align 8
  %rma = load double, ptr %s3, align 8
  %m2a = load double, ptr %s4, align 8
  %m3a = load double, ptr %s5, align 8
  %m4a = load double, ptr %s6, align 8
  %loa = load double, ptr %s7, align 8
  %hia = load double, ptr %s8, align 8
  %nt = fadd double %na, %nb            ; n = na + nb (exact)
  %ab = fmul double %na, %nb            ; na * nb (exact)
  ; merge_one: mean_a + delta * (nb / n), comoment_a + comoment_b + delta * delta * (na * nb / n)
  %delta = fsub double %mb, %ma
  %q = fdiv double %nb, %nt
  %dq = fmul double %delta, %q
  %mean = fadd double %ma, %dq
  %cab = fadd double %ca, %m2b
  %dd = fmul double %delta, %delta
  %r = fdiv double %ab, %nt
  %ddr = fmul double %dd, %r
  %com = fadd double %cab, %ddr
  ; merge_rows
  %rd = fsub double %mb, %rma           ; delta
  %dn = fdiv double %rd, %nt            ; d_n
  %dn2 = fmul double %dn, %dn           ; d_n2
  %dnb = fmul double %dn, %nb
  %rmean = fadd double %rma, %dnb       ; ma + d_n * nb
  %m2ab = fadd double %m2a, %m2b
  %rddn = fmul double %rd, %dn
  %t2 = fmul double %rddn, %ab
  %m2 = fadd double %m2ab, %t2          ; m2a + m2b + delta * d_n * ab
  %m3ab = fadd double %m3a, %m3b
  %rddn2 = fmul double %rd, %dn2
  %u1 = fmul double %rddn2, %ab
  %namnb = fsub double %na, %nb
  %u2 = fmul double %u1, %namnb
  %m3x = fadd double %m3ab, %u2         ; m3a + m3b + delta * d_n2 * ab * (na - nb)
  %three = fmul double 3.0, %dn
  %nam2b = fmul double %na, %m2b
  %nbm2a = fmul double %nb, %m2a
  %w3 = fsub double %nam2b, %nbm2a
  %u3 = fmul double %three, %w3
  %m3 = fadd double %m3x, %u3           ; ... + 3.0 * d_n * (na * m2b - nb * m2a)
  %m4ab = fadd double %m4a, %m4b
  %v1 = fmul double %rddn2, %dn         ; delta * d_n2 * d_n
  %v2 = fmul double %v1, %ab
  %nana = fmul double %na, %na
  %nbnb = fmul double %nb, %nb
  %v3 = fsub double %nana, %ab
  %v4 = fadd double %v3, %nbnb          ; na * na - ab + nb * nb
  %v5 = fmul double %v2, %v4
  %m4x = fadd double %m4ab, %v5
  %six = fmul double 6.0, %dn2
  %v6 = fmul double %nana, %m2b
  %v7 = fmul double %nbnb, %m2a
  %v8 = fadd double %v6, %v7
  %v9 = fmul double %six, %v8
  %m4y = fadd double %m4x, %v9          ; ... + 6.0 * d_n2 * (na * na * m2b + nb * nb * m2a)
  %four = fmul double 4.0, %dn
  %v10 = fmul double %na, %m3b
  %v11 = fmul double %nb, %m3a
  %v12 = fsub double %v10, %v11
  %v13 = fmul double %four, %v12
  %m4 = fadd double %m4y, %v13          ; ... + 4.0 * d_n * (na * m3b - nb * m3a)
  %lt = fcmp olt double %lob, %loa      ; min(lo_a, lo_b): lo_b only when it is less
  %lo = select i1 %lt, double %lob, double %loa
  %gt = fcmp ogt double %hib, %hia      ; max(hi_a, hi_b): hi_b only when it is greater
  %hi = select i1 %gt, double %hib, double %hia
  store double %nt, ptr %state, align 8
  store double %mean, ptr %s1, align 8
  store double %com, ptr %s2, align 8
  store double %rmean, ptr %s3, align 8
  store double %m2, ptr %s4, align 8
  store double %m3, ptr %s5, align 8
  store double %m4, ptr %s6, align 8
  store double %lo, ptr %s7, align 8
  store double %hi, ptr %s8, align 8
  ret i1 %finite
}

; fold_array -- @fold_column of a numpy array given as the Python object
; itself: its data pointer is read at byte %offset of the object (numpy's
; PyArrayObject keeps it there; montecarlo._kernels.stats.data_offset finds
; the offset and checks it once per process). Taking the object spares the
; caller a microsecond per batch of asking numpy for the address.
define i1 @fold_array(ptr noalias %state, i64 %offset, ptr readonly %array, i64 %n) nounwind {
  %slot = getelementptr inbounds i8, ptr %array, i64 %offset
  %x = load ptr, ptr %slot, align 8
  %finite = call i1 @fold_column(ptr %state, ptr %x, i64 %n)
  ret i1 %finite
}
