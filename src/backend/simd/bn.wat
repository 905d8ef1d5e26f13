;; Training-mode BatchNorm over x [R, C] (C a multiple of 4) in WebAssembly SIMD on the TF.js wasm
;; backend's memory; the kernels of src/snn/fused/batch-norm.ts. Sums run in float32 over blocks
;; of 64 rows and are added up in float64 (4 channels per instruction in float32, 2 in float64).
;; Scratch `acc`: 4*C f64 (32*C bytes); `coef`: 3*C f32.
(module
  (import "env" "memory" (memory 1))

  ;; acc[c] (f64) += sum over rows r0 <= r < r1 of f(x[r, c]) for c in [0, C), f = identity or
  ;; (x - m[c])^2 (sq), or dy * (x - m[c]) (prod, with y = dy) -- kept simple: mode 0/1/2.
  (func $colsum (param $x i32) (param $y i32) (param $m i32) (param $acc i32) (param $R i32) (param $C i32) (param $mode i32)
    (local $r0 i32) (local $r i32) (local $r1 i32) (local $c i32) (local $rowBytes i32) (local $p i32) (local $s v128) (local $v v128) (local $q i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $r0) (local.get $R)))
      (local.set $r1 (select (i32.add (local.get $r0) (i32.const 64)) (local.get $R) (i32.lt_u (i32.add (local.get $r0) (i32.const 64)) (local.get $R))))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (local.set $r (local.get $r0))
        (block $rd (loop $rl
          (br_if $rd (i32.ge_u (local.get $r) (local.get $r1)))
          (local.set $p (i32.add (i32.mul (local.get $r) (local.get $rowBytes)) (i32.shl (local.get $c) (i32.const 2))))
          (local.set $v (v128.load (i32.add (local.get $x) (local.get $p))))
          (if (local.get $mode)
            (then
              (local.set $v (f32x4.sub (local.get $v) (v128.load (i32.add (local.get $m) (i32.shl (local.get $c) (i32.const 2))))))
              (local.set $v (f32x4.mul (local.get $v)
                (if (result v128) (i32.eq (local.get $mode) (i32.const 1)) (then (local.get $v)) (else (v128.load (i32.add (local.get $y) (local.get $p)))))))))
          (local.set $s (f32x4.add (local.get $s) (local.get $v)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $rl)))
        (local.set $q (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
        (v128.store (local.get $q) (f64x2.add (v128.load (local.get $q)) (f64x2.promote_low_f32x4 (local.get $s))))
        (v128.store offset=16 (local.get $q) (f64x2.add (v128.load offset=16 (local.get $q))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s)))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cl)))
      (local.set $r0 (local.get $r1))
      (br $bl))))

  (func $zero (param $p i32) (param $bytes i32)
    (memory.fill (local.get $p) (i32.const 0) (local.get $bytes)))

  ;; mv [2, C]: mean and biased variance
  (func (export "bn_moments") (param $x i32) (param $mv i32) (param $R i32) (param $C i32) (param $acc i32)
    (local $c i32) (local $rf f64)
    (local.set $rf (f64.convert_i32_u (local.get $R)))
    (call $zero (local.get $acc) (i32.shl (local.get $C) (i32.const 4)))
    (call $colsum (local.get $x) (i32.const 0) (i32.const 0) (local.get $acc) (local.get $R) (local.get $C) (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $c) (local.get $C)))
      (f32.store (i32.add (local.get $mv) (i32.shl (local.get $c) (i32.const 2)))
        (f32.demote_f64 (f64.div (f64.load (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3)))) (local.get $rf))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $l)))
    ;; second pass: sum of squared deviations from the float32 mean, into acc[C..2C)
    (call $colsum (local.get $x) (i32.const 0) (local.get $mv) (i32.add (local.get $acc) (i32.shl (local.get $C) (i32.const 3))) (local.get $R) (local.get $C) (i32.const 1))
    (local.set $c (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $c) (local.get $C)))
      (f32.store (i32.add (local.get $mv) (i32.shl (i32.add (local.get $C) (local.get $c)) (i32.const 2)))
        (f32.demote_f64 (f64.div (f64.load (i32.add (local.get $acc) (i32.shl (i32.add (local.get $C) (local.get $c)) (i32.const 3)))) (local.get $rf))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $l2))))

  ;; y[r, c] = x[r, c] * coef[c] + coef[C + c]  (per-channel affine map; coef from JS)
  (func (export "bn_affine") (param $x i32) (param $y i32) (param $coef i32) (param $R i32) (param $C i32)
    (local $r i32) (local $c i32) (local $p i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $R)))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $p (i32.add (i32.mul (local.get $r) (local.get $rowBytes)) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (i32.add (local.get $y) (local.get $p))
          (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $p))) (v128.load (i32.add (local.get $coef) (i32.shl (local.get $c) (i32.const 2)))))
                     (v128.load (i32.add (local.get $coef) (i32.add (local.get $rowBytes) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))

  ;; acc[0..C) = sum dy, acc[C..2C) = sum dy (x - mean)  (f64)
  (func (export "bn_grad_sums") (param $dy i32) (param $x i32) (param $mv i32) (param $R i32) (param $C i32) (param $acc i32)
    (call $zero (local.get $acc) (i32.shl (local.get $C) (i32.const 4)))
    (call $colsum (local.get $dy) (i32.const 0) (i32.const 0) (local.get $acc) (local.get $R) (local.get $C) (i32.const 0))
    (call $colsum (local.get $x) (local.get $dy) (local.get $mv) (i32.add (local.get $acc) (i32.shl (local.get $C) (i32.const 3))) (local.get $R) (local.get $C) (i32.const 2)))

  ;; dx[r, c] = coef[c] dy + coef[C + c] (x - mean[c]) + coef[2C + c]
  (func (export "bn_grad_dx") (param $dy i32) (param $x i32) (param $mv i32) (param $dx i32) (param $coef i32) (param $R i32) (param $C i32)
    (local $r i32) (local $c i32) (local $p i32) (local $q i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $R)))
      (local.set $c (i32.const 0))
      (block $cd (loop $cl
        (br_if $cd (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $p (i32.add (i32.mul (local.get $r) (local.get $rowBytes)) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $q (i32.add (local.get $coef) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (i32.add (local.get $dx) (local.get $p))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (local.get $q)) (v128.load (i32.add (local.get $dy) (local.get $p))))
              (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $rowBytes)))
                         (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $p))) (v128.load (i32.add (local.get $mv) (i32.shl (local.get $c) (i32.const 2)))))))
            (v128.load (i32.add (local.get $q) (i32.shl (local.get $rowBytes) (i32.const 1))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))
)
