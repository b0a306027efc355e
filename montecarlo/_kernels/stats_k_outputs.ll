; stats_k_outputs.ll -- statistics of a C-ordered (n, k) float64 batch, n >= 1, k >= 1.
; Row i goes to lane i mod 32 in every column.
;   w:   scratch of 32 * (9k + P) doubles, P = k(k+1)/2, contents ignored;
;        64-byte alignment avoids cache-line splits (not needed for bits)
;   out: sum[k] mean[k] comoment[P] (upper triangle, row-major) m3[k] m4[k]
;        min[k] max[k]
; Runtime k means the 32-lane accumulators live in w.  To keep that memory
; traffic low, rows are taken in chunks of up to 4 blocks of 32 rows: an
; accumulator is loaded once per chunk, receives the chunk's blocks in row
; order (so each lane still adds its rows strictly in order), and is stored.
; Pass 1 needs no transposition: a block of 32 rows read flat *is* the lane
; layout [lane][column], so the lane sums (and min/max) of all columns are
; one 32k-double accumulator updated with contiguous vector adds; the last
; n mod 32 rows are added one double at a time.  Pass 2 gathers each block
; into T[column][block][lane] (deviations, +0.0 past row n) and updates one
; 32-lane accumulator per pair a <= b and per m3/m4 column.
; w layout: sums[32k] lo[32k] hi[32k] m3[32k] m4[32k] C[32P] T[128k].
define void @k_outputs(ptr noalias readonly %x, i64 %n, i64 %k, ptr noalias %w, ptr noalias %out) nounwind {
entry:
  %kb = shl i64 %k, 5
  %k1 = add i64 %k, 1
  %kk1 = mul i64 %k, %k1
  %np = lshr i64 %kk1, 1
  %npb = shl i64 %np, 5
  %nbf = lshr i64 %n, 5
  %full = and i64 %n, -32
  %fullend = mul i64 %full, %k
  %nk = mul i64 %n, %k
  %nf = uitofp i64 %n to double
  %w.lo = getelementptr inbounds double, ptr %w, i64 %kb
  %w.hi = getelementptr inbounds double, ptr %w.lo, i64 %kb
  %w.m3 = getelementptr inbounds double, ptr %w.hi, i64 %kb
  %w.m4 = getelementptr inbounds double, ptr %w.m3, i64 %kb
  %w.c = getelementptr inbounds double, ptr %w.m4, i64 %kb
  %w.t = getelementptr inbounds double, ptr %w.c, i64 %npb
  %o.mean = getelementptr inbounds double, ptr %out, i64 %k
  %o.c = getelementptr inbounds double, ptr %o.mean, i64 %k
  %o.m3 = getelementptr inbounds double, ptr %o.c, i64 %np
  %o.m4 = getelementptr inbounds double, ptr %o.m3, i64 %k
  %o.min = getelementptr inbounds double, ptr %o.m4, i64 %k
  %o.max = getelementptr inbounds double, ptr %o.min, i64 %k
  br label %init
init:
  %ic = phi i64 [ 0, %entry ], [ %ic.1, %init ]
  %ip = getelementptr inbounds double, ptr %w, i64 %ic
  store <32 x double> zeroinitializer, ptr %ip, align 8
  %ilo = getelementptr inbounds double, ptr %w.lo, i64 %ic
  store <32 x double> splat (double 0x7FF0000000000000), ptr %ilo, align 8
  %ihi = getelementptr inbounds double, ptr %w.hi, i64 %ic
  store <32 x double> splat (double 0xFFF0000000000000), ptr %ihi, align 8
  %im3 = getelementptr inbounds double, ptr %w.m3, i64 %ic
  store <32 x double> zeroinitializer, ptr %im3, align 8
  %im4 = getelementptr inbounds double, ptr %w.m4, i64 %ic
  store <32 x double> zeroinitializer, ptr %im4, align 8
  %ic.1 = add nuw i64 %ic, 32
  %ic.more = icmp ult i64 %ic.1, %kb
  br i1 %ic.more, label %init, label %initc
initc:
  %pc = phi i64 [ 0, %init ], [ %pc.1, %initc ]
  %pcp = getelementptr inbounds double, ptr %w.c, i64 %pc
  store <32 x double> zeroinitializer, ptr %pcp, align 8
  %pc.1 = add nuw i64 %pc, 32
  %pc.more = icmp ult i64 %pc.1, %npb
  br i1 %pc.more, label %initc, label %p1
p1:                                     ; pass 1: chunks of up to 4 full blocks
  %cb = phi i64 [ 0, %initc ], [ %cb.1, %p1.cnext ]
  %cb.more = icmp ult i64 %cb, %nbf
  br i1 %cb.more, label %p1.chunk, label %p1.tail
p1.chunk:
  %cleft = sub nuw i64 %nbf, %cb
  %cn = call i64 @llvm.umin.i64(i64 %cleft, i64 4)
  %cbx = mul nuw i64 %cb, %kb
  br label %p1.col
p1.col:                                 ; 32 doubles c..c+31 of the lane layout
  %c = phi i64 [ 0, %p1.chunk ], [ %c.1, %p1.colend ]
  %ap = getelementptr inbounds double, ptr %w, i64 %c
  %lp = getelementptr inbounds double, ptr %w.lo, i64 %c
  %hp = getelementptr inbounds double, ptr %w.hi, i64 %c
  %s.0 = load <32 x double>, ptr %ap, align 8
  %lo.0 = load <32 x double>, ptr %lp, align 8
  %hi.0 = load <32 x double>, ptr %hp, align 8
  %cx = add nuw i64 %cbx, %c
  br label %p1.blk
p1.blk:
  %bi = phi i64 [ 0, %p1.col ], [ %bi.1, %p1.blk ]
  %xo = phi i64 [ %cx, %p1.col ], [ %xo.1, %p1.blk ]
  %s = phi <32 x double> [ %s.0, %p1.col ], [ %s.1, %p1.blk ]
  %lo = phi <32 x double> [ %lo.0, %p1.col ], [ %lo.1, %p1.blk ]
  %hi = phi <32 x double> [ %hi.0, %p1.col ], [ %hi.1, %p1.blk ]
  %xp = getelementptr inbounds double, ptr %x, i64 %xo
  %v = load <32 x double>, ptr %xp, align 8
  %s.1 = fadd <32 x double> %s, %v
  %lo.1 = call <32 x double> @vmin(<32 x double> %lo, <32 x double> %v)
  %hi.1 = call <32 x double> @vmax(<32 x double> %hi, <32 x double> %v)
  %xo.1 = add nuw i64 %xo, %kb
  %bi.1 = add nuw i64 %bi, 1
  %bi.more = icmp ult i64 %bi.1, %cn
  br i1 %bi.more, label %p1.blk, label %p1.colend
p1.colend:
  store <32 x double> %s.1, ptr %ap, align 8
  store <32 x double> %lo.1, ptr %lp, align 8
  store <32 x double> %hi.1, ptr %hp, align 8
  %c.1 = add nuw i64 %c, 32
  %c.more = icmp ult i64 %c.1, %kb
  br i1 %c.more, label %p1.col, label %p1.cnext
p1.cnext:
  %cb.1 = add nuw i64 %cb, 4
  br label %p1
p1.tail:                                ; last r < 32 rows: lanes 0..r-1 only
  %tt = phi i64 [ %fullend, %p1 ], [ %tt.1, %p1.tbody ]
  %tt.more = icmp ult i64 %tt, %nk
  br i1 %tt.more, label %p1.tbody, label %red1
p1.tbody:
  %tx = getelementptr inbounds double, ptr %x, i64 %tt
  %tv = load double, ptr %tx, align 8
  %to = sub nuw i64 %tt, %fullend
  %ta = getelementptr inbounds double, ptr %w, i64 %to
  %tav = load double, ptr %ta, align 8
  %tas = fadd double %tav, %tv
  store double %tas, ptr %ta, align 8
  %tl = getelementptr inbounds double, ptr %w.lo, i64 %to
  %tlv = load double, ptr %tl, align 8
  %tlc.lt = fcmp olt double %tv, %tlv
  %tnan = fcmp uno double %tv, %tv
  %tlc = or i1 %tlc.lt, %tnan            ; a NaN is kept, as in @vmin
  %tls = select i1 %tlc, double %tv, double %tlv
  store double %tls, ptr %tl, align 8
  %th = getelementptr inbounds double, ptr %w.hi, i64 %to
  %thv = load double, ptr %th, align 8
  %thc.gt = fcmp ogt double %tv, %thv
  %thc = or i1 %thc.gt, %tnan
  %ths = select i1 %thc, double %tv, double %thv
  store double %ths, ptr %th, align 8
  %tt.1 = add nuw i64 %tt, 1
  br label %p1.tail
red1:                                   ; column sums -> means; min, max
  %j = phi i64 [ 0, %p1.tail ], [ %j.1, %red1 ]
  %sp = getelementptr inbounds double, ptr %w, i64 %j
  %sv = call <32 x double> @gather(ptr %sp, i64 %k, <32 x i1> splat (i1 true))
  %sum = call double @tree32(<32 x double> %sv)
  %mean = fdiv double %sum, %nf
  %osp = getelementptr inbounds double, ptr %out, i64 %j
  store double %sum, ptr %osp, align 8
  %omp = getelementptr inbounds double, ptr %o.mean, i64 %j
  store double %mean, ptr %omp, align 8
  %lop = getelementptr inbounds double, ptr %w.lo, i64 %j
  %lov = call <32 x double> @gather(ptr %lop, i64 %k, <32 x i1> splat (i1 true))
  %mn = call double @min_of(<32 x double> %lov)
  %mn0 = fadd double %mn, 0.0
  %omn = getelementptr inbounds double, ptr %o.min, i64 %j
  store double %mn0, ptr %omn, align 8
  %hip = getelementptr inbounds double, ptr %w.hi, i64 %j
  %hiv = call <32 x double> @gather(ptr %hip, i64 %k, <32 x i1> splat (i1 true))
  %mx = call double @max_of(<32 x double> %hiv)
  %mx0 = fadd double %mx, 0.0
  %omx = getelementptr inbounds double, ptr %o.max, i64 %j
  store double %mx0, ptr %omx, align 8
  %j.1 = add nuw i64 %j, 1
  %j.more = icmp ult i64 %j.1, %k
  br i1 %j.more, label %red1, label %p2
p2:                                     ; pass 2: chunks of up to 128 rows
  %rb = phi i64 [ 0, %red1 ], [ %rb.1, %p2.next ]
  %rb.more = icmp ult i64 %rb, %n
  br i1 %rb.more, label %p2.chunk, label %red2
p2.chunk:
  %left = sub nuw i64 %n, %rb
  %left31 = add nuw i64 %left, 31
  %nbl = lshr i64 %left31, 5
  %nb = call i64 @llvm.umin.i64(i64 %nbl, i64 4)
  br label %p2.tq
p2.tq:                                  ; T[q][0..127] = deviations of column q
  %q = phi i64 [ 0, %p2.chunk ], [ %q.1, %p2.tqend ]
  %mqp = getelementptr inbounds double, ptr %o.mean, i64 %q
  %mq = load double, ptr %mqp, align 8
  %bmq = call <32 x double> @splat(double %mq)
  %q128 = shl i64 %q, 7
  %tq = getelementptr inbounds double, ptr %w.t, i64 %q128
  br label %p2.tb
p2.tb:                                  ; one block: gather 32 rows, +0.0 past row n
  %tb = phi i64 [ 0, %p2.tq ], [ %tb.1, %p2.tb ]
  %tb32 = shl i64 %tb, 5
  %row = add nuw i64 %rb, %tb32
  %rleft = sub nuw i64 %n, %row
  %rcnt = call i64 @llvm.umin.i64(i64 %rleft, i64 32)
  %mask = call <32 x i1> @lanes_below(i64 %rcnt)
  %ro = mul nuw i64 %row, %k
  %roq = add nuw i64 %ro, %q
  %gp = getelementptr inbounds double, ptr %x, i64 %roq
  %g = call <32 x double> @gather(ptr %gp, i64 %k, <32 x i1> %mask)
  %dq = fsub <32 x double> %g, %bmq
  %dz = select <32 x i1> %mask, <32 x double> %dq, <32 x double> zeroinitializer
  %tp = getelementptr inbounds double, ptr %tq, i64 %tb32
  store <32 x double> %dz, ptr %tp, align 8
  %tb.1 = add nuw i64 %tb, 1
  %tb.more = icmp ult i64 %tb.1, %nb
  br i1 %tb.more, label %p2.tb, label %p2.tqend
p2.tqend:
  %q.1 = add nuw i64 %q, 1
  %q.more = icmp ult i64 %q.1, %k
  br i1 %q.more, label %p2.tq, label %p2.a
p2.a:                                   ; column a: C[a,a], m3[a], m4[a] ...
  %a = phi i64 [ 0, %p2.tqend ], [ %a.1, %p2.anext ]
  %pa = phi i64 [ 0, %p2.tqend ], [ %pb, %p2.anext ]
  %a32 = shl i64 %a, 5
  %a128 = shl i64 %a, 7
  %tap = getelementptr inbounds double, ptr %w.t, i64 %a128
  %pa32 = shl i64 %pa, 5
  %cap = getelementptr inbounds double, ptr %w.c, i64 %pa32
  %m3p = getelementptr inbounds double, ptr %w.m3, i64 %a32
  %m4p = getelementptr inbounds double, ptr %w.m4, i64 %a32
  %c2.0 = load <32 x double>, ptr %cap, align 8
  %c3.0 = load <32 x double>, ptr %m3p, align 8
  %c4.0 = load <32 x double>, ptr %m4p, align 8
  br label %p2.ablk
p2.ablk:
  %ab = phi i64 [ 0, %p2.a ], [ %ab.1, %p2.ablk ]
  %c2 = phi <32 x double> [ %c2.0, %p2.a ], [ %c2.1, %p2.ablk ]
  %c3 = phi <32 x double> [ %c3.0, %p2.a ], [ %c3.1, %p2.ablk ]
  %c4 = phi <32 x double> [ %c4.0, %p2.a ], [ %c4.1, %p2.ablk ]
  %ab32 = shl i64 %ab, 5
  %dap = getelementptr inbounds double, ptr %tap, i64 %ab32
  %da = load <32 x double>, ptr %dap, align 8
  %d2 = fmul <32 x double> %da, %da
  %d3 = fmul <32 x double> %d2, %da
  %d4 = fmul <32 x double> %d2, %d2
  %c2.1 = fadd <32 x double> %c2, %d2
  %c3.1 = fadd <32 x double> %c3, %d3
  %c4.1 = fadd <32 x double> %c4, %d4
  %ab.1 = add nuw i64 %ab, 1
  %ab.more = icmp ult i64 %ab.1, %nb
  br i1 %ab.more, label %p2.ablk, label %p2.aend
p2.aend:
  store <32 x double> %c2.1, ptr %cap, align 8
  store <32 x double> %c3.1, ptr %m3p, align 8
  store <32 x double> %c4.1, ptr %m4p, align 8
  %a.1 = add nuw i64 %a, 1
  %pa.1 = add nuw i64 %pa, 1
  br label %p2.b
p2.b:                                   ; ... and C[a,b] for b > a
  %bb = phi i64 [ %a.1, %p2.aend ], [ %bb.1, %p2.bend ]
  %pb = phi i64 [ %pa.1, %p2.aend ], [ %pb.1, %p2.bend ]
  %bb.more = icmp ult i64 %bb, %k
  br i1 %bb.more, label %p2.bcol, label %p2.anext
p2.bcol:
  %bb128 = shl i64 %bb, 7
  %tbp = getelementptr inbounds double, ptr %w.t, i64 %bb128
  %pb32 = shl i64 %pb, 5
  %cbp = getelementptr inbounds double, ptr %w.c, i64 %pb32
  %cab.0 = load <32 x double>, ptr %cbp, align 8
  br label %p2.bblk
p2.bblk:
  %bk = phi i64 [ 0, %p2.bcol ], [ %bk.1, %p2.bblk ]
  %cab = phi <32 x double> [ %cab.0, %p2.bcol ], [ %cab.1, %p2.bblk ]
  %bk32 = shl i64 %bk, 5
  %xa = getelementptr inbounds double, ptr %tap, i64 %bk32
  %va = load <32 x double>, ptr %xa, align 8
  %xb = getelementptr inbounds double, ptr %tbp, i64 %bk32
  %vb = load <32 x double>, ptr %xb, align 8
  %prod = fmul <32 x double> %va, %vb
  %cab.1 = fadd <32 x double> %cab, %prod
  %bk.1 = add nuw i64 %bk, 1
  %bk.more = icmp ult i64 %bk.1, %nb
  br i1 %bk.more, label %p2.bblk, label %p2.bend
p2.bend:
  store <32 x double> %cab.1, ptr %cbp, align 8
  %bb.1 = add nuw i64 %bb, 1
  %pb.1 = add nuw i64 %pb, 1
  br label %p2.b
p2.anext:
  %a.more = icmp ult i64 %a.1, %k
  br i1 %a.more, label %p2.a, label %p2.next
p2.next:
  %rb.1 = add nuw i64 %rb, 128
  br label %p2
red2:                                   ; halving trees of the co-moments
  %u = phi i64 [ 0, %p2 ], [ %u.1, %red2 ]
  %u32 = shl i64 %u, 5
  %cu = getelementptr inbounds double, ptr %w.c, i64 %u32
  %cuv = load <32 x double>, ptr %cu, align 8
  %cus = call double @tree32(<32 x double> %cuv)
  %ocu = getelementptr inbounds double, ptr %o.c, i64 %u
  store double %cus, ptr %ocu, align 8
  %u.1 = add nuw i64 %u, 1
  %u.more = icmp ult i64 %u.1, %np
  br i1 %u.more, label %red2, label %red3
red3:                                   ; ... of m3 and m4
  %h = phi i64 [ 0, %red2 ], [ %h.1, %red3 ]
  %h32 = shl i64 %h, 5
  %h3 = getelementptr inbounds double, ptr %w.m3, i64 %h32
  %h3v = load <32 x double>, ptr %h3, align 8
  %h3s = call double @tree32(<32 x double> %h3v)
  %oh3 = getelementptr inbounds double, ptr %o.m3, i64 %h
  store double %h3s, ptr %oh3, align 8
  %h4 = getelementptr inbounds double, ptr %w.m4, i64 %h32
  %h4v = load <32 x double>, ptr %h4, align 8
  %h4s = call double @tree32(<32 x double> %h4v)
  %oh4 = getelementptr inbounds double, ptr %o.m4, i64 %h
  store double %h4s, ptr %oh4, align 8
  %h.1 = add nuw i64 %h, 1
  %h.more = icmp ult i64 %h.1, %k
  br i1 %h.more, label %red3, label %done
done:
  ret void
}
