;; Batched small matrix products in WebAssembly SIMD on the TF.js wasm backend's memory:
;; out[b] = a[b] x bm[b] for a [B,M,K], bm [B,K,N], out [B,M,N] (row-major, no transposes).
;;
;; For batches of small matrices (attention heads: 64 x 64 x 48) XNNPACK's per-entry path
;; creates and packs an operator per entry and the built-in loop is scalar; this kernel keeps 16
;; output columns in 4 v128 accumulators and adds a[i,k] * bm[k, n..n+15] for k in order (a
;; multiply then an add, as the scalar loop does).
(module
  (import "env" "memory" (memory 1))

  (func (export "batched_matmul") (param $a i32) (param $bm i32) (param $out i32)
        (param $B i32) (param $M i32) (param $K i32) (param $N i32)
    (local $b i32) (local $i i32) (local $k i32) (local $n0 i32) (local $n16 i32)
    (local $arow i32) (local $bbase i32) (local $orow i32) (local $p i32) (local $rowBytes i32)
    (local $av v128) (local $s f32) (local $acc f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $n16 (i32.and (local.get $N) (i32.const -16)))
    (local.set $rowBytes (i32.shl (local.get $N) (i32.const 2)))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $bbase (i32.add (local.get $bm) (i32.mul (i32.mul (local.get $b) (local.get $K)) (local.get $rowBytes))))
      (local.set $i (i32.const 0))
      (block $id (loop $il
        (br_if $id (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $arow (i32.add (local.get $a) (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $M)) (local.get $i)) (local.get $K)) (i32.const 2))))
        (local.set $orow (i32.add (local.get $out) (i32.mul (i32.add (i32.mul (local.get $b) (local.get $M)) (local.get $i)) (local.get $rowBytes))))
        (local.set $n0 (i32.const 0))
        (block $nd (loop $nl
          (br_if $nd (i32.ge_u (local.get $n0) (local.get $n16)))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $p (i32.add (local.get $bbase) (i32.shl (local.get $n0) (i32.const 2))))
          (local.set $k (i32.const 0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $av (f32x4.splat (f32.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $av) (v128.load (local.get $p)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $av) (v128.load offset=16 (local.get $p)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $av) (v128.load offset=32 (local.get $p)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $av) (v128.load offset=48 (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kl)))
          (local.set $p (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))))
          (v128.store (local.get $p) (local.get $a0))
          (v128.store offset=16 (local.get $p) (local.get $a1))
          (v128.store offset=32 (local.get $p) (local.get $a2))
          (v128.store offset=48 (local.get $p) (local.get $a3))
          (local.set $n0 (i32.add (local.get $n0) (i32.const 16)))
          (br $nl)))
        ;; remaining columns
        (block $td (loop $tl
          (br_if $td (i32.ge_u (local.get $n0) (local.get $N)))
          (local.set $acc (f32.const 0))
          (local.set $p (i32.add (local.get $bbase) (i32.shl (local.get $n0) (i32.const 2))))
          (local.set $k (i32.const 0))
          (block $kd2 (loop $kl2
            (br_if $kd2 (i32.ge_u (local.get $k) (local.get $K)))
            (local.set $acc (f32.add (local.get $acc)
              (f32.mul (f32.load (i32.add (local.get $arow) (i32.shl (local.get $k) (i32.const 2)))) (f32.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kl2)))
          (f32.store (i32.add (local.get $orow) (i32.shl (local.get $n0) (i32.const 2))) (local.get $acc))
          (local.set $n0 (i32.add (local.get $n0) (i32.const 1)))
          (br $tl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl)))))
