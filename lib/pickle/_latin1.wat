;; SIMD kernels for the Latin-1 text that protocol 2 uses to carry bytes:
;; `_codecs.encode(<str>, "latin1")` holds each byte as one code point, so
;; the pickle stores the UTF-8 of U+0000..U+00FF. Scalar JS moves about
;; 0.4 GB/s through these transforms; 16 lanes at a time move several.
;;
;; Both kernels read n bytes at `in` followed by zero padding (16 bytes),
;; write to `out` (room for 2n + 32 bytes), and count the padding out of
;; their result. Drop patterns for i8x16.swizzle sit at 0..2047: entry m
;; lists, in order, the lanes 0..7 whose bit in m is clear; the host fills it.
;;
;; Rebuild lib/pickle/_latin1_wasm.ts after editing: `deno task wasm`.
(module
  (memory (export "memory") 1)
  ;; Stores the lanes of `val` whose bit in `drop` (16 bits) is clear, in
  ;; order, at `o`; returns the offset after them. Writes up to 16 bytes.
  (func $compact (param $val v128) (param $drop i32) (param $o i32) (result i32)
    (local $m i32)
    (local.set $m (i32.and (local.get $drop) (i32.const 255)))
    (v128.store64_lane 0 (local.get $o)
      (i8x16.swizzle (local.get $val) (v128.load64_zero (i32.shl (local.get $m) (i32.const 3)))))
    (local.set $o (i32.sub (i32.add (local.get $o) (i32.const 8)) (i32.popcnt (local.get $m))))
    (local.set $m (i32.shr_u (local.get $drop) (i32.const 8)))
    (v128.store64_lane 0 (local.get $o)
      (i8x16.swizzle (local.get $val)
        (i8x16.add (v128.load64_zero (i32.shl (local.get $m) (i32.const 3)))
          (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))))
    (i32.sub (i32.add (local.get $o) (i32.const 8)) (i32.popcnt (local.get $m))))

  ;; UTF-8 of Latin-1 text -> bytes; -1 when it holds anything else.
  (func (export "utf8ToLatin1") (param $in i32) (param $n i32) (param $out i32) (result i32)
    (local $end i32) (local $o i32) (local $v v128) (local $prev v128) (local $prevV v128)
    (local $lead v128) (local $cont v128) (local $bad v128) (local $val v128)
        (local.set $o (local.get $out))
    ;; blocks cover n + 1 bytes: the zero padding after the input ends any open pair
    (local.set $end (i32.add (local.get $in)
      (i32.and (i32.add (local.get $n) (i32.const 16)) (i32.const -16))))
    (local.set $prevV (v128.const i64x2 0 0))
    (local.set $bad (v128.const i64x2 0 0))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $v (v128.load (local.get $in)))
        (local.set $prev (i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
          (local.get $prevV) (local.get $v)))
        (local.set $lead (i8x16.ge_u (local.get $v) (v128.const i8x16 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0)))
        (local.set $cont (v128.andnot
          (i8x16.lt_s (local.get $v) (v128.const i64x2 0 0))
          (local.get $lead)))
        ;; a continuation exactly after each lead, and leads only C2 or C3 (U+0080..U+00FF)
        (local.set $bad (v128.or (local.get $bad)
          (v128.or
            (v128.xor (local.get $cont)
              (i8x16.ge_u (local.get $prev) (v128.const i8x16 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0)))
            (v128.andnot (local.get $lead)
              (i8x16.eq (v128.and (local.get $v) (v128.const i8x16 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe 0xfe))
                (v128.const i8x16 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2 0xc2))))))
        ;; the byte sits at its continuation; leads are dropped
        (local.set $val (v128.bitselect
          (v128.or (i8x16.shl (local.get $prev) (i32.const 6))
            (v128.and (local.get $v) (v128.const i8x16 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f)))
          (local.get $v) (local.get $cont)))
        (local.set $o (call $compact (local.get $val) (i8x16.bitmask (local.get $lead)) (local.get $o)))
        (local.set $prevV (local.get $v))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (br $blocks)))
    (if (v128.any_true (local.get $bad)) (then (return (i32.const -1))))
    ;; the padding zeros were written too
    (i32.sub (i32.sub (local.get $o) (local.get $out))
      (i32.sub (i32.and (i32.add (local.get $n) (i32.const 16)) (i32.const -16)) (local.get $n))))

  ;; Bytes -> the UTF-8 of their Latin-1 text.
  (func (export "latin1ToUtf8") (param $in i32) (param $n i32) (param $out i32) (result i32)
    (local $end i32) (local $o i32) (local $v v128) (local $high v128) (local $first v128)
    (local $second v128) (local $drop v128) (local $pair v128)
    (local.set $o (local.get $out))
    (local.set $end (i32.add (local.get $in)
      (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $v (v128.load (local.get $in)))
        (local.set $high (i8x16.lt_s (local.get $v) (v128.const i64x2 0 0)))
        (local.set $first (v128.bitselect
          (v128.or (i8x16.shr_u (local.get $v) (i32.const 6)) (v128.const i8x16 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0 0xc0))
          (local.get $v) (local.get $high)))
        (local.set $second (v128.or (v128.and (local.get $v) (v128.const i8x16 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f 0x3f))
          (v128.const i8x16 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80 0x80)))
        ;; drop bits: the second byte of every ASCII byte
        (local.set $drop (v128.not (local.get $high)))
        ;; input bytes 0..7
        (local.set $pair (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $first) (local.get $second)))
        (local.set $o (call $compact (local.get $pair)
          (i8x16.bitmask (i8x16.shuffle 16 0 16 1 16 2 16 3 16 4 16 5 16 6 16 7 (local.get $drop) (v128.const i64x2 0 0)))
          (local.get $o)))
        ;; input bytes 8..15
        (local.set $pair (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $first) (local.get $second)))
        (local.set $o (call $compact (local.get $pair)
          (i8x16.bitmask (i8x16.shuffle 16 8 16 9 16 10 16 11 16 12 16 13 16 14 16 15 (local.get $drop) (v128.const i64x2 0 0)))
          (local.get $o)))
        (local.set $in (i32.add (local.get $in) (i32.const 16)))
        (br $blocks)))
    (i32.sub (i32.sub (local.get $o) (local.get $out))
      (i32.sub (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16)) (local.get $n))))
)
