;; Event-driven products of binary spike matrices, in WebAssembly SIMD, run directly on the
;; TF.js wasm backend's memory (imported; pointers are byte offsets of its tensors).
;;
;; spike_matmul(s, w, out, M, K, N, idx): out[M,N] = s[M,K] x w[K,N] for s in {0,1}: for each row
;; m, the indices k with s[m,k] = 1 are listed (idx: K i32 of scratch), then every output
;; element sums w[k, n] over those k in increasing k, 16 columns at a time in 4 v128
;; accumulators. Dense kernels (XNNPACK) sum s*w over all k in the same order, and s*w is
;; exactly w or 0 while adding 0 changes nothing, so the results are bit for bit the same.
;;
;; count_spikes(s, n): the number of ones in s[n], or -1 when some value is neither 0 nor 1.
(module
  (import "env" "memory" (memory 1))

  (func (export "count_spikes") (param $s i32) (param $n i32) (result i32)
    (local $i i32) (local $cnt i32) (local $v v128) (local $one v128) (local $is1 v128) (local $f f32) (local $n4 i32)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $v (v128.load (i32.add (local.get $s) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $is1 (f32x4.eq (local.get $v) (local.get $one)))
        (if (i32.eqz (v128.any_true (v128.andnot
              (v128.not (f32x4.eq (local.get $v) (f32x4.splat (f32.const 0))))
              (local.get $is1))))
          (then)
          (else (return (i32.const -1))))
        (local.set $cnt (i32.add (local.get $cnt) (i32.popcnt (i32x4.bitmask (local.get $is1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (block $done2
      (loop $l2
        (br_if $done2 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $f (f32.load (i32.add (local.get $s) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.eq (local.get $f) (f32.const 1))
          (then (local.set $cnt (i32.add (local.get $cnt) (i32.const 1))))
          (else (if (f32.ne (local.get $f) (f32.const 0)) (then (return (i32.const -1))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l2)))
    (local.get $cnt))

  (func (export "spike_matmul") (param $s i32) (param $w i32) (param $out i32)
        (param $M i32) (param $K i32) (param $N i32) (param $idx i32)
    (local $m i32) (local $k i32) (local $cnt i32) (local $j i32) (local $n0 i32) (local $n16 i32)
    (local $row i32) (local $orow i32) (local $p i32) (local $rowBytes i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $acc f32)
    (local.set $n16 (i32.and (local.get $N) (i32.const -16)))
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (block $mdone
      (loop $mloop
        (br_if $mdone (i32.ge_u (local.get $m) (local.get $M)))
        ;; events of row m
        (local.set $row (i32.add (local.get $s) (i32.shl (i32.mul (local.get $m) (local.get $K)) (i32.const 2))))
        (local.set $cnt (i32.const 0))
        (local.set $k (i32.const 0))
        (block $kdone
          (loop $kloop
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
            (if (f32.ne (f32.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2)))) (f32.const 0))
              (then
                (i32.store (i32.add (local.get $idx) (i32.shl (local.get $cnt) (i32.const 2)))
                           (i32.mul (local.get $k) (local.get $rowBytes)))
                (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kloop)))
        (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $m) (local.get $rowBytes))))
        ;; 16 columns at a time
        (local.set $n0 (i32.const 0))
        (block $ndone
          (loop $nloop
            (br_if $ndone (i32.ge_u (local.get $n0) (local.get $n16)))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.const 0))
            (block $jdone
              (loop $jloop
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $cnt)))
                (local.set $p (i32.add (i32.add (local.get $w) (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))))
                                       (i32.shl (local.get $n0) (i32.const 2))))
                (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
                (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 (local.get $p))))
                (local.set $a2 (f32x4.add (local.get $a2) (v128.load offset=32 (local.get $p))))
                (local.set $a3 (f32x4.add (local.get $a3) (v128.load offset=48 (local.get $p))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jloop)))
            (local.set $p (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))))
            (v128.store (local.get $p) (local.get $a0))
            (v128.store offset=16 (local.get $p) (local.get $a1))
            (v128.store offset=32 (local.get $p) (local.get $a2))
            (v128.store offset=48 (local.get $p) (local.get $a3))
            (local.set $n0 (i32.add (local.get $n0) (i32.const 16)))
            (br $nloop)))
        ;; remaining columns one at a time
        (block $tdone
          (loop $tloop
            (br_if $tdone (i32.ge_u (local.get $n0) (local.get $N)))
            (local.set $acc (f32.const 0))
            (local.set $j (i32.const 0))
            (block $jdone2
              (loop $jloop2
                (br_if $jdone2 (i32.ge_u (local.get $j) (local.get $cnt)))
                (local.set $acc (f32.add (local.get $acc)
                  (f32.load (i32.add (i32.add (local.get $w) (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))))
                                     (i32.shl (local.get $n0) (i32.const 2))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jloop2)))
            (f32.store (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))) (local.get $acc))
            (local.set $n0 (i32.add (local.get $n0) (i32.const 1)))
            (br $tloop)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $mloop))))

  ;; spike_tmatmul(s, dy, out, M, K, N, idx): out[K,N] = s[M,K]^T x dy[M,N] for s in {0,1} (the
  ;; weight gradient of a spike-input layer): out is zeroed, then for each row m and each k with
  ;; s[m,k] = 1, dy[m,:] is added to out[k,:] (m in increasing order for every element).
  (func (export "spike_tmatmul") (param $s i32) (param $dy i32) (param $out i32)
        (param $M i32) (param $K i32) (param $N i32) (param $idx i32)
    (local $m i32) (local $k i32) (local $cnt i32) (local $j i32) (local $n i32) (local $n4 i32)
    (local $row i32) (local $drow i32) (local $orow i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (local.set $n4 (i32.and (local.get $N) (i32.const -4)))
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $K) (local.get $rowBytes)))
    (block $mdone (loop $mloop
      (br_if $mdone (i32.ge_u (local.get $m) (local.get $M)))
      (local.set $row (i32.add (local.get $s) (i32.shl (i32.mul (local.get $m) (local.get $K)) (i32.const 2))))
      (local.set $drow (i32.add (local.get $dy) (i32.mul (local.get $m) (local.get $rowBytes))))
      (local.set $k (i32.const 0))
      (block $kdone (loop $kloop
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
        (if (f32.ne (f32.load (i32.add (local.get $row) (i32.shl (local.get $k) (i32.const 2)))) (f32.const 0))
          (then
            (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $k) (local.get $rowBytes))))
            (local.set $n (i32.const 0))
            (block $nd (loop $nl
              (br_if $nd (i32.ge_u (local.get $n) (local.get $n4)))
              (v128.store (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2)))
                (f32x4.add (v128.load (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2))))
                           (v128.load (i32.add (local.get $drow) (i32.shl (local.get $n) (i32.const 2))))))
              (local.set $n (i32.add (local.get $n) (i32.const 4)))
              (br $nl)))
            (block $td (loop $tl
              (br_if $td (i32.ge_u (local.get $n) (local.get $N)))
              (f32.store (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2)))
                (f32.add (f32.load (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2))))
                         (f32.load (i32.add (local.get $drow) (i32.shl (local.get $n) (i32.const 2))))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $tl)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kloop)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $mloop))))

  ;; spike_conv_filter_grad(s, dy, out, B, H, W, Ci, Co, k, pad, idx): the filter gradient of a
  ;; stride-1 k x k convolution of binary spikes s [B,H,W,Ci] with output gradient dy [B,OH,OW,Co]:
  ;; out [k,k,Ci,Co] = sum over spikes (b,y,x,ci) and taps (ky,kx) with an output position
  ;; (y - ky + pad, x - kx + pad) of dy at that position, added to out[ky,kx,ci,:].
  (func (export "spike_conv_filter_grad") (param $s i32) (param $dy i32) (param $out i32)
        (param $B i32) (param $H i32) (param $W i32) (param $Ci i32) (param $Co i32)
        (param $k i32) (param $pad i32) (param $idx i32)
    (local $OH i32) (local $OW i32) (local $b i32) (local $y i32) (local $x i32) (local $ky i32) (local $kx i32)
    (local $oy i32) (local $ox i32) (local $ci i32) (local $cnt i32) (local $j i32) (local $n i32) (local $n4 i32)
    (local $base i32) (local $drow i32) (local $orow i32) (local $tap i32) (local $rowBytes i32)
    (local.set $OH (i32.add (i32.sub (i32.add (local.get $H) (i32.shl (local.get $pad) (i32.const 1))) (local.get $k)) (i32.const 1)))
    (local.set $OW (i32.add (i32.sub (i32.add (local.get $W) (i32.shl (local.get $pad) (i32.const 1))) (local.get $k)) (i32.const 1)))
    (local.set $rowBytes (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $n4 (i32.and (local.get $Co) (i32.const -4)))
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (i32.mul (i32.mul (local.get $k) (local.get $k)) (local.get $Ci)) (local.get $rowBytes)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $y (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_s (local.get $y) (local.get $H)))
        (local.set $x (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_s (local.get $x) (local.get $W)))
          ;; spiking channels of this pixel
          (local.set $base (i32.add (local.get $s) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $y)) (local.get $W)) (local.get $x)) (local.get $Ci)) (i32.const 2))))
          (local.set $cnt (i32.const 0))
          (local.set $ci (i32.const 0))
          (block $cd (loop $cl
            (br_if $cd (i32.ge_u (local.get $ci) (local.get $Ci)))
            (if (f32.ne (f32.load (i32.add (local.get $base) (i32.shl (local.get $ci) (i32.const 2)))) (f32.const 0))
              (then
                (i32.store (i32.add (local.get $idx) (i32.shl (local.get $cnt) (i32.const 2))) (i32.mul (local.get $ci) (local.get $rowBytes)))
                (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
            (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
            (br $cl)))
          (if (local.get $cnt) (then
            (local.set $ky (i32.const 0))
            (block $kyd (loop $kyl
              (br_if $kyd (i32.ge_s (local.get $ky) (local.get $k)))
              (local.set $oy (i32.add (i32.sub (local.get $y) (local.get $ky)) (local.get $pad)))
              (if (i32.and (i32.ge_s (local.get $oy) (i32.const 0)) (i32.lt_s (local.get $oy) (local.get $OH))) (then
                (local.set $kx (i32.const 0))
                (block $kxd (loop $kxl
                  (br_if $kxd (i32.ge_s (local.get $kx) (local.get $k)))
                  (local.set $ox (i32.add (i32.sub (local.get $x) (local.get $kx)) (local.get $pad)))
                  (if (i32.and (i32.ge_s (local.get $ox) (i32.const 0)) (i32.lt_s (local.get $ox) (local.get $OW))) (then
                    (local.set $drow (i32.add (local.get $dy) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $OH)) (local.get $oy)) (local.get $OW)) (local.get $ox)) (local.get $rowBytes))))
                    (local.set $tap (i32.add (local.get $out) (i32.mul (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $k)) (local.get $kx)) (local.get $Ci)) (local.get $rowBytes))))
                    (local.set $j (i32.const 0))
                    (block $jd (loop $jl
                      (br_if $jd (i32.ge_u (local.get $j) (local.get $cnt)))
                      (local.set $orow (i32.add (local.get $tap) (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2))))))
                      (local.set $n (i32.const 0))
                      (block $nd (loop $nl
                        (br_if $nd (i32.ge_u (local.get $n) (local.get $n4)))
                        (v128.store (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2)))
                          (f32x4.add (v128.load (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2))))
                                     (v128.load (i32.add (local.get $drow) (i32.shl (local.get $n) (i32.const 2))))))
                        (local.set $n (i32.add (local.get $n) (i32.const 4)))
                        (br $nl)))
                      (block $td (loop $tl
                        (br_if $td (i32.ge_u (local.get $n) (local.get $Co)))
                        (f32.store (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2)))
                          (f32.add (f32.load (i32.add (local.get $orow) (i32.shl (local.get $n) (i32.const 2))))
                                   (f32.load (i32.add (local.get $drow) (i32.shl (local.get $n) (i32.const 2))))))
                        (local.set $n (i32.add (local.get $n) (i32.const 1)))
                        (br $tl)))
                      (local.set $j (i32.add (local.get $j) (i32.const 1)))
                      (br $jl)))))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxl)))))
              (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
              (br $kyl)))))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $xl)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; spike_conv(s, w, out, B, H, W, Ci, Co, k, pad, idx): a stride-1 k x k convolution of binary
  ;; NHWC spikes s [B,H,W,Ci] with HWIO weights w [k,k,Ci,Co] and zero padding `pad`, out
  ;; [B,OH,OW,Co] with OH = H + 2 pad - k + 1. For each output pixel the events are listed in the
  ;; order (tap row, tap column, input channel) -- the order in which XNNPACK's indirect GEMM adds
  ;; them -- and summed like spike_matmul's rows. idx: k*k*Ci i32 of scratch.
  (func (export "spike_conv") (param $s i32) (param $w i32) (param $out i32)
        (param $B i32) (param $H i32) (param $W i32) (param $Ci i32) (param $Co i32)
        (param $k i32) (param $pad i32) (param $idx i32)
    (local $OH i32) (local $OW i32) (local $b i32) (local $y i32) (local $x i32) (local $ky i32) (local $kx i32)
    (local $iy i32) (local $ix i32) (local $ci i32) (local $cnt i32) (local $base i32) (local $tap i32) (local $rowBytes i32)
    (local.set $OH (i32.add (i32.sub (i32.add (local.get $H) (i32.shl (local.get $pad) (i32.const 1))) (local.get $k)) (i32.const 1)))
    (local.set $OW (i32.add (i32.sub (i32.add (local.get $W) (i32.shl (local.get $pad) (i32.const 1))) (local.get $k)) (i32.const 1)))
    (local.set $rowBytes (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $b (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $y (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_s (local.get $y) (local.get $OH)))
        (local.set $x (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_s (local.get $x) (local.get $OW)))
          (local.set $cnt (i32.const 0))
          (local.set $ky (i32.const 0))
          (block $kyd (loop $kyl
            (br_if $kyd (i32.ge_s (local.get $ky) (local.get $k)))
            (local.set $iy (i32.sub (i32.add (local.get $y) (local.get $ky)) (local.get $pad)))
            (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $H)))
              (then
                (local.set $kx (i32.const 0))
                (block $kxd (loop $kxl
                  (br_if $kxd (i32.ge_s (local.get $kx) (local.get $k)))
                  (local.set $ix (i32.sub (i32.add (local.get $x) (local.get $kx)) (local.get $pad)))
                  (if (i32.and (i32.ge_s (local.get $ix) (i32.const 0)) (i32.lt_s (local.get $ix) (local.get $W)))
                    (then
                      (local.set $base (i32.add (local.get $s) (i32.shl
                        (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $iy)) (local.get $W)) (local.get $ix)) (local.get $Ci))
                        (i32.const 2))))
                      ;; byte offset of weight row (ky, kx, 0)
                      (local.set $tap (i32.mul (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $k)) (local.get $kx)) (local.get $Ci)) (local.get $rowBytes)))
                      (local.set $ci (i32.const 0))
                      (block $cd (loop $cl
                        (br_if $cd (i32.ge_u (local.get $ci) (local.get $Ci)))
                        (if (f32.ne (f32.load (i32.add (local.get $base) (i32.shl (local.get $ci) (i32.const 2)))) (f32.const 0))
                          (then
                            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $cnt) (i32.const 2)))
                                       (i32.add (local.get $tap) (i32.mul (local.get $ci) (local.get $rowBytes))))
                            (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
                        (local.set $ci (i32.add (local.get $ci) (i32.const 1)))
                        (br $cl)))))
                  (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                  (br $kxl)))))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyl)))
          (call $accumulate (local.get $w) (local.get $idx) (local.get $cnt) (local.get $Co)
            (i32.add (local.get $out) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $OH)) (local.get $y)) (local.get $OW)) (local.get $x)) (local.get $rowBytes))))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $xl)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; orow[0..N) = sum over j < cnt of the weight row at byte offset idx[j] from w.
  (func $accumulate (param $w i32) (param $idx i32) (param $cnt i32) (param $N i32) (param $orow i32)
    (local $n0 i32) (local $n16 i32) (local $j i32) (local $p i32) (local $acc f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $n16 (i32.and (local.get $N) (i32.const -16)))
    (block $ndone
      (loop $nloop
        (br_if $ndone (i32.ge_u (local.get $n0) (local.get $n16)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $jdone
          (loop $jloop
            (br_if $jdone (i32.ge_u (local.get $j) (local.get $cnt)))
            (local.set $p (i32.add (i32.add (local.get $w) (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))))
                                   (i32.shl (local.get $n0) (i32.const 2))))
            (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
            (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 (local.get $p))))
            (local.set $a2 (f32x4.add (local.get $a2) (v128.load offset=32 (local.get $p))))
            (local.set $a3 (f32x4.add (local.get $a3) (v128.load offset=48 (local.get $p))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jloop)))
        (local.set $p (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))))
        (v128.store (local.get $p) (local.get $a0))
        (v128.store offset=16 (local.get $p) (local.get $a1))
        (v128.store offset=32 (local.get $p) (local.get $a2))
        (v128.store offset=48 (local.get $p) (local.get $a3))
        (local.set $n0 (i32.add (local.get $n0) (i32.const 16)))
        (br $nloop)))
    (block $tdone
      (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $n0) (local.get $N)))
        (local.set $acc (f32.const 0))
        (local.set $j (i32.const 0))
        (block $jdone2
          (loop $jloop2
            (br_if $jdone2 (i32.ge_u (local.get $j) (local.get $cnt)))
            (local.set $acc (f32.add (local.get $acc)
              (f32.load (i32.add (i32.add (local.get $w) (i32.load (i32.add (local.get $idx) (i32.shl (local.get $j) (i32.const 2)))))
                                 (i32.shl (local.get $n0) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jloop2)))
        (f32.store (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))) (local.get $acc))
        (local.set $n0 (i32.add (local.get $n0) (i32.const 1)))
        (br $tloop))))
)
