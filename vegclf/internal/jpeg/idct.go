package jpeg

// block is an 8x8 block of DCT coefficients, then of samples, in natural (row-major) order.
type block [blockSize]int32

const blockSize = 8 * 8

// Constants of libjpeg's jidctint.c: 13-bit fixed-point multipliers, 2 extra bits kept between passes.
const (
	constBits = 13
	pass1Bits = 2

	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

// descale is libjpeg's DESCALE: a right shift by n, rounding half up.
func descale(x int64, n uint) int64 {
	return (x + 1<<(n-1)) >> n
}

// idct1D is one 1-D pass of libjpeg's islow IDCT over the 8 values in[0], in[stride], ..., returning
// the 8 outputs before the pass's final descale.
func idct1D(in0, in1, in2, in3, in4, in5, in6, in7 int64) (out [8]int64) {
	// Even part.
	z2, z3 := in2, in6
	z1 := (z2 + z3) * fix0541196100
	tmp2 := z1 + z3*-fix1847759065
	tmp3 := z1 + z2*fix0765366865
	tmp0 := (in0 + in4) << constBits
	tmp1 := (in0 - in4) << constBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	// Odd part.
	tmp0, tmp1, tmp2, tmp3 = in7, in5, in3, in1
	z1 = tmp0 + tmp3
	z2 = tmp1 + tmp2
	z3 = tmp0 + tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1175875602
	tmp0 *= fix0298631336
	tmp1 *= fix2053119869
	tmp2 *= fix3072711026
	tmp3 *= fix1501321110
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 *= -fix1961570560
	z4 *= -fix0390180644
	z3 += z5
	z4 += z5
	tmp0 += z1 + z3
	tmp1 += z2 + z4
	tmp2 += z2 + z3
	tmp3 += z1 + z4

	return [8]int64{
		tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0,
		tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3,
	}
}

// idct is libjpeg's jpeg_idct_islow on dequantized coefficients: columns first, then rows. The outputs
// are level-shifted samples minus 128 (the caller adds 128 and clamps, as libjpeg's range limit does).
func idct(b *block) {
	var ws [blockSize]int64
	for col := 0; col < 8; col++ {
		c := func(row int) int64 { return int64(b[row*8+col]) }
		if c(1) == 0 && c(2) == 0 && c(3) == 0 && c(4) == 0 && c(5) == 0 && c(6) == 0 && c(7) == 0 {
			dc := c(0) << pass1Bits
			for row := 0; row < 8; row++ {
				ws[row*8+col] = dc
			}
			continue
		}
		out := idct1D(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7))
		for row := 0; row < 8; row++ {
			ws[row*8+col] = descale(out[row], constBits-pass1Bits)
		}
	}
	for row := 0; row < 8; row++ {
		w := ws[row*8 : row*8+8]
		out := idct1D(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])
		for col := 0; col < 8; col++ {
			b[row*8+col] = int32(descale(out[col], constBits+pass1Bits+3))
		}
	}
}
