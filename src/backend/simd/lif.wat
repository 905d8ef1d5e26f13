;; The fused multi-step LIF / IF neuron (src/snn/fused/lif-math.ts) in WebAssembly SIMD on the TF.js
;; wasm backend's memory, 4 neurons per instruction. Layout [T, N] (time-major). Flags: leaky
;; (LIF, else IF), hard (reset to vr, else subtract vth), detach (no gradient through the reset).
;;
;; lif_forward(x, s, v, T, N, k, vth, vr, leaky, hard): spikes s; v is N floats of scratch. Every
;; float32 operation of the composed path is done in the same order (sub, mul, add), so the
;; spikes are bit-identical to MultiStepNeuron's composed ops.
;; lif_backward(dy, x, dx, h, dv, T, N, k, vth, vr, alpha, leaky, hard, detach): BPTT with the
;; sigmoid surrogate alpha*e/(1+e)^2, e = exp(-alpha (h - vth)); h: T*N floats and dv: N floats of
;; scratch. exp is 2^round(y) (exponent bits) times a degree-6 polynomial of 2^f, |f| <= 1/2.
(module
  (import "env" "memory" (memory 1))

  (func $charge (param $xv v128) (param $vv v128) (param $k v128) (param $vr v128) (param $leaky i32) (result v128)
    (if (result v128) (local.get $leaky)
      (then (f32x4.add (f32x4.mul (f32x4.sub (local.get $xv) (f32x4.sub (local.get $vv) (local.get $vr))) (local.get $k)) (local.get $vv)))
      (else (f32x4.add (local.get $xv) (local.get $vv)))))

  ;; the membrane after firing: hard: fire ? vr : h; soft: fire ? h - vth : h
  (func $reset (param $h v128) (param $fire v128) (param $vth v128) (param $vr v128) (param $hard i32) (result v128)
    (v128.bitselect
      (if (result v128) (local.get $hard) (then (local.get $vr)) (else (f32x4.sub (local.get $h) (local.get $vth))))
      (local.get $h)
      (local.get $fire)))

  (func (export "lif_forward") (param $x i32) (param $s i32) (param $v i32) (param $T i32) (param $N i32)
        (param $kf f32) (param $vthf f32) (param $vrf f32) (param $leaky i32) (param $hard i32)
    (local $t i32) (local $i i32) (local $o i32) (local $n4 i32) (local $h v128) (local $fire v128) (local $vv v128)
    (local $k v128) (local $vth v128) (local $vr v128) (local $one v128)
    (local $hs f32) (local $vs f32) (local $fs i32)
    (local.set $k (f32x4.splat (local.get $kf)))
    (local.set $vth (f32x4.splat (local.get $vthf)))
    (local.set $vr (f32x4.splat (if (result f32) (local.get $hard) (then (local.get $vrf)) (else (f32.const 0)))))
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $n4 (i32.and (local.get $N) (i32.const -4)))
    ;; v = vr
    (local.set $i (i32.const 0))
    (block $d0 (loop $l0
      (br_if $d0 (i32.ge_u (local.get $i) (local.get $N)))
      (f32.store (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2))) (f32x4.extract_lane 0 (local.get $vr)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l0)))
    (block $td (loop $tl
      (br_if $td (i32.ge_u (local.get $t) (local.get $T)))
      (local.set $o (i32.mul (local.get $t) (local.get $N)))
      (local.set $i (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $vv (v128.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $h (call $charge
          (v128.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2))))
          (local.get $vv) (local.get $k) (local.get $vr) (local.get $leaky)))
        (local.set $fire (f32x4.ge (local.get $h) (local.get $vth)))
        (v128.store (i32.add (local.get $s) (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2)))
          (v128.and (local.get $fire) (local.get $one)))
        (v128.store (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2)))
          (call $reset (local.get $h) (local.get $fire) (local.get $vth) (local.get $vr) (local.get $hard)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1)))
      ;; tail, one neuron at a time through lane 0
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $i) (local.get $N)))
        (local.set $vv (f32x4.splat (f32.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $h (call $charge
          (f32x4.splat (f32.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2)))))
          (local.get $vv) (local.get $k) (local.get $vr) (local.get $leaky)))
        (local.set $fire (f32x4.ge (local.get $h) (local.get $vth)))
        (f32.store (i32.add (local.get $s) (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2)))
          (f32x4.extract_lane 0 (v128.and (local.get $fire) (local.get $one))))
        (f32.store (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 2)))
          (f32x4.extract_lane 0 (call $reset (local.get $h) (local.get $fire) (local.get $vth) (local.get $vr) (local.get $hard))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l2)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl))))

  ;; exp(x) for 4 lanes (about 1e-7 relative; x clamped to [-87, 87])
  (func $exp4 (param $x v128) (result v128)
    (local $y v128) (local $n v128) (local $f v128) (local $p v128)
    (local.set $y (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.4426950408889634))))
    (local.set $y (f32x4.min (f32x4.max (local.get $y) (f32x4.splat (f32.const -126))) (f32x4.splat (f32.const 126))))
    (local.set $n (f32x4.nearest (local.get $y)))
    (local.set $f (f32x4.sub (local.get $y) (local.get $n)))
    ;; 2^f = sum (ln2 f)^j / j!, j <= 6
    (local.set $p (f32x4.splat (f32.const 0.00015403530393381606)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.0013333558146428443))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.009618129107628477))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.05550410866482158))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.2402265069591007))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 0.6931471805599453))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (f32x4.splat (f32.const 1))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  (func (export "lif_backward") (param $dy i32) (param $x i32) (param $dx i32) (param $hb i32) (param $dvb i32)
        (param $T i32) (param $N i32) (param $kf f32) (param $vthf f32) (param $vrf f32) (param $alphaf f32)
        (param $leaky i32) (param $hard i32) (param $detach i32)
    (local $t i32) (local $i i32) (local $o i32) (local $p i32) (local $n4 i32)
    (local $h v128) (local $fire v128) (local $vv v128) (local $g v128) (local $e v128) (local $d v128)
    (local $dh v128) (local $dv v128) (local $ds v128)
    (local $k v128) (local $vth v128) (local $vr v128) (local $one v128) (local $alpha v128) (local $nalpha v128)
    (local $dhdx v128) (local $dhdv v128)
    (local.set $k (f32x4.splat (local.get $kf)))
    (local.set $vth (f32x4.splat (local.get $vthf)))
    (local.set $vr (f32x4.splat (if (result f32) (local.get $hard) (then (local.get $vrf)) (else (f32.const 0)))))
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $alpha (f32x4.splat (local.get $alphaf)))
    (local.set $nalpha (f32x4.neg (local.get $alpha)))
    (local.set $dhdx (if (result v128) (local.get $leaky) (then (local.get $k)) (else (local.get $one))))
    (local.set $dhdv (if (result v128) (local.get $leaky) (then (f32x4.sub (local.get $one) (local.get $k))) (else (local.get $one))))
    ;; N is a multiple of 4 here (the caller pads or uses the JS kernel otherwise)
    (local.set $n4 (local.get $N))
    ;; pass 1: membrane H [T, N]
    (local.set $i (i32.const 0))
    (block $d0 (loop $l0
      (br_if $d0 (i32.ge_u (local.get $i) (local.get $n4)))
      (v128.store (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2))) (local.get $vr))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l0)))
    (local.set $t (i32.const 0))
    (block $td (loop $tl
      (br_if $td (i32.ge_u (local.get $t) (local.get $T)))
      (local.set $o (i32.mul (local.get $t) (local.get $N)))
      (local.set $i (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $p (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2)))
        (local.set $vv (v128.load (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $h (call $charge (v128.load (i32.add (local.get $x) (local.get $p))) (local.get $vv) (local.get $k) (local.get $vr) (local.get $leaky)))
        (v128.store (i32.add (local.get $hb) (local.get $p)) (local.get $h))
        (local.set $fire (f32x4.ge (local.get $h) (local.get $vth)))
        (v128.store (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2)))
          (call $reset (local.get $h) (local.get $fire) (local.get $vth) (local.get $vr) (local.get $hard)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tl)))
    ;; pass 2: BPTT, dV starts at 0
    (local.set $i (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $i) (local.get $n4)))
      (v128.store (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2))) (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l2)))
    (local.set $t (local.get $T))
    (block $bd (loop $bl
      (br_if $bd (i32.eqz (local.get $t)))
      (local.set $t (i32.sub (local.get $t) (i32.const 1)))
      (local.set $o (i32.mul (local.get $t) (local.get $N)))
      (local.set $i (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $p (i32.shl (i32.add (local.get $o) (local.get $i)) (i32.const 2)))
        (local.set $h (v128.load (i32.add (local.get $hb) (local.get $p))))
        (local.set $fire (f32x4.ge (local.get $h) (local.get $vth)))
        ;; g = alpha e / (1 + e)^2, e = exp(-alpha (h - vth)), as alpha (e / d) / d: e reaches 2^126
        ;; far below the threshold, where alpha e and d^2 overflow float32 and their ratio is NaN
        (local.set $e (call $exp4 (f32x4.mul (local.get $nalpha) (f32x4.sub (local.get $h) (local.get $vth)))))
        (local.set $d (f32x4.add (local.get $one) (local.get $e)))
        (local.set $g (f32x4.div (f32x4.mul (local.get $alpha) (f32x4.div (local.get $e) (local.get $d))) (local.get $d)))
        (local.set $dv (v128.load (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $ds (v128.load (i32.add (local.get $dy) (local.get $p))))
        (if (i32.eqz (local.get $detach))
          (then (local.set $ds (f32x4.add (local.get $ds) (f32x4.mul (local.get $dv)
            (if (result v128) (local.get $hard) (then (f32x4.sub (local.get $vr) (local.get $h))) (else (f32x4.neg (local.get $vth)))))))))
        ;; dh = dV dV/dH + dS g; dV/dH = 1 - S (hard) or 1 (soft)
        (local.set $dh (f32x4.add
          (if (result v128) (local.get $hard) (then (v128.andnot (local.get $dv) (local.get $fire))) (else (local.get $dv)))
          (f32x4.mul (local.get $ds) (local.get $g))))
        (v128.store (i32.add (local.get $dx) (local.get $p)) (f32x4.mul (local.get $dh) (local.get $dhdx)))
        (v128.store (i32.add (local.get $dvb) (i32.shl (local.get $i) (i32.const 2))) (f32x4.mul (local.get $dh) (local.get $dhdv)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l3)))
      (br $bl))))
)
