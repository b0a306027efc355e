; stats_common.ll -- helpers shared by stats_one_output.ll and stats_k_outputs.ll (all inlined).
;
; The summation order "lanes then halves" (W = 32): row i is added to lane
; i mod 32 (lanes start at +0.0, strictly in row order), then the lanes are
; combined by halving, s[j] += s[j + w/2] for w = 32, 16, 8, 4, 2 (@tree32).
;
; Why this is reproducible: only plain fadd/fsub/fmul/fdiv, with NO fast-math
; or `contract` flags, so LLVM may neither reassociate nor fuse into FMA. The
; 32 lanes live in one <32 x double>, which LLVM legalises to 4 zmm, 8 ymm or
; 16 xmm registers (or scalars); the lanes are independent, so the vector
; width never changes a bit.
;
; Tail (partial) blocks feed an identity to the unused lanes: -0.0 for raw
; sums (s + -0.0 == s for every s, NaN payloads included) and +0.0 for
; deviation products, an identity too because an accumulator that starts at
; +0.0 never becomes -0.0 under round-to-nearest (a sum is -0.0 only when
; both terms are). Min/max start at +inf / -inf, are order free, and get
; "+ 0.0" so that -0.0 is reported as +0.0.
;
; Opaque `ptr` and the `i32 align` form of the masked intrinsics parse on
; LLVM 20 and on the LLVM 22 inside llvmlite 0.50 (which auto-upgrades them).

declare <32 x double> @llvm.masked.load.v32f64.p0(ptr, i32, <32 x i1>, <32 x double>)
declare <32 x double> @llvm.masked.gather.v32f64.v32p0(<32 x ptr>, i32, <32 x i1>, <32 x double>)
declare double @llvm.vector.reduce.fmin.v32f64(<32 x double>)
declare double @llvm.vector.reduce.fmax.v32f64(<32 x double>)
declare i1 @llvm.vector.reduce.or.v32i1(<32 x i1>)
declare i64 @llvm.umin.i64(i64, i64)
declare double @llvm.fabs.f64(double)

; The halving tree: s[j] += s[j + w/2] for w = 32, 16, 8, 4, 2.
define internal double @tree32(<32 x double> %s) alwaysinline {
  %a = shufflevector <32 x double> %s, <32 x double> poison, <16 x i32> <i32 0, i32 1, i32 2, i32 3, i32 4, i32 5, i32 6, i32 7, i32 8, i32 9, i32 10, i32 11, i32 12, i32 13, i32 14, i32 15>
  %b = shufflevector <32 x double> %s, <32 x double> poison, <16 x i32> <i32 16, i32 17, i32 18, i32 19, i32 20, i32 21, i32 22, i32 23, i32 24, i32 25, i32 26, i32 27, i32 28, i32 29, i32 30, i32 31>
  %s16 = fadd <16 x double> %a, %b
  %c = shufflevector <16 x double> %s16, <16 x double> poison, <8 x i32> <i32 0, i32 1, i32 2, i32 3, i32 4, i32 5, i32 6, i32 7>
  %d = shufflevector <16 x double> %s16, <16 x double> poison, <8 x i32> <i32 8, i32 9, i32 10, i32 11, i32 12, i32 13, i32 14, i32 15>
  %s8 = fadd <8 x double> %c, %d
  %e = shufflevector <8 x double> %s8, <8 x double> poison, <4 x i32> <i32 0, i32 1, i32 2, i32 3>
  %f = shufflevector <8 x double> %s8, <8 x double> poison, <4 x i32> <i32 4, i32 5, i32 6, i32 7>
  %s4 = fadd <4 x double> %e, %f
  %g = shufflevector <4 x double> %s4, <4 x double> poison, <2 x i32> <i32 0, i32 1>
  %h = shufflevector <4 x double> %s4, <4 x double> poison, <2 x i32> <i32 2, i32 3>
  %s2 = fadd <2 x double> %g, %h
  %lo = extractelement <2 x double> %s2, i64 0
  %hi = extractelement <2 x double> %s2, i64 1
  %r = fadd double %lo, %hi
  ret double %r
}
define internal <32 x double> @splat(double %v) alwaysinline {
  %i = insertelement <32 x double> poison, double %v, i64 0
  %s = shufflevector <32 x double> %i, <32 x double> poison, <32 x i32> zeroinitializer
  ret <32 x double> %s
}
define internal <32 x i1> @lanes_below(i64 %r) alwaysinline {
  %i = insertelement <32 x i64> poison, i64 %r, i64 0
  %s = shufflevector <32 x i64> %i, <32 x i64> poison, <32 x i32> zeroinitializer
  %m = icmp ult <32 x i64> <i64 0, i64 1, i64 2, i64 3, i64 4, i64 5, i64 6, i64 7, i64 8, i64 9, i64 10, i64 11, i64 12, i64 13, i64 14, i64 15, i64 16, i64 17, i64 18, i64 19, i64 20, i64 21, i64 22, i64 23, i64 24, i64 25, i64 26, i64 27, i64 28, i64 29, i64 30, i64 31>, %s
  ret <32 x i1> %m
}
; Running minimum and maximum that keep a NaN once they meet one (as numpy's do): the
; comparison alone would skip a NaN in %b.
define internal <32 x double> @vmin(<32 x double> %a, <32 x double> %b) alwaysinline {
  %c = fcmp olt <32 x double> %b, %a
  %r0 = select <32 x i1> %c, <32 x double> %b, <32 x double> %a
  %nan = fcmp uno <32 x double> %b, %b
  %r = select <32 x i1> %nan, <32 x double> %b, <32 x double> %r0
  ret <32 x double> %r
}
define internal <32 x double> @vmax(<32 x double> %a, <32 x double> %b) alwaysinline {
  %c = fcmp ogt <32 x double> %b, %a
  %r0 = select <32 x i1> %c, <32 x double> %b, <32 x double> %a
  %nan = fcmp uno <32 x double> %b, %b
  %r = select <32 x i1> %nan, <32 x double> %b, <32 x double> %r0
  ret <32 x double> %r
}
; Running minimum and maximum by comparison alone (a NaN in %b is skipped), for
; vectors known to hold no NaN: the same results as @vmin/@vmax there.
define internal <32 x double> @vmin_plain(<32 x double> %a, <32 x double> %b) alwaysinline {
  %c = fcmp olt <32 x double> %b, %a
  %r = select <32 x i1> %c, <32 x double> %b, <32 x double> %a
  ret <32 x double> %r
}
define internal <32 x double> @vmax_plain(<32 x double> %a, <32 x double> %b) alwaysinline {
  %c = fcmp ogt <32 x double> %b, %a
  %r = select <32 x i1> %c, <32 x double> %b, <32 x double> %a
  ret <32 x double> %r
}
; The lanes' minimum or maximum: NaN when a lane holds one (the reductions skip NaN).
define internal double @min_of(<32 x double> %v) alwaysinline {
  %m = call double @llvm.vector.reduce.fmin.v32f64(<32 x double> %v)
  %u = fcmp uno <32 x double> %v, %v
  %any = call i1 @llvm.vector.reduce.or.v32i1(<32 x i1> %u)
  %r = select i1 %any, double 0x7FF8000000000000, double %m
  ret double %r
}
define internal double @max_of(<32 x double> %v) alwaysinline {
  %m = call double @llvm.vector.reduce.fmax.v32f64(<32 x double> %v)
  %u = fcmp uno <32 x double> %v, %v
  %any = call i1 @llvm.vector.reduce.or.v32i1(<32 x i1> %u)
  %r = select i1 %any, double 0x7FF8000000000000, double %m
  ret double %r
}
; lanes p[l * stride] (l < 32 where mask) else 0.0
define internal <32 x double> @gather(ptr %p, i64 %stride, <32 x i1> %mask) alwaysinline {
  %i = insertelement <32 x i64> poison, i64 %stride, i64 0
  %s = shufflevector <32 x i64> %i, <32 x i64> poison, <32 x i32> zeroinitializer
  %idx = mul <32 x i64> <i64 0, i64 1, i64 2, i64 3, i64 4, i64 5, i64 6, i64 7, i64 8, i64 9, i64 10, i64 11, i64 12, i64 13, i64 14, i64 15, i64 16, i64 17, i64 18, i64 19, i64 20, i64 21, i64 22, i64 23, i64 24, i64 25, i64 26, i64 27, i64 28, i64 29, i64 30, i64 31>, %s
  %ptrs = getelementptr double, ptr %p, <32 x i64> %idx
  %v = call <32 x double> @llvm.masked.gather.v32f64.v32p0(<32 x ptr> %ptrs, i32 8, <32 x i1> %mask, <32 x double> zeroinitializer)
  ret <32 x double> %v
}

