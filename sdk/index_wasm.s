//go:build gc

#include "textflag.h"

// func indexNL(b []byte) int
//
// R0 is the address being tested, R1 the end of b, R2 its start. Eight
// bytes at a time: in w, the bytes that are '\n' become zero, and
// (w-ones) &^ w & 0x80...80 sets the top bit of every zero byte, and
// maybe of bytes above one (a borrow), never below the first, so its
// lowest set bit is the first '\n'. Then byte by byte for the last
// seven or fewer.
TEXT ·indexNL(SB), NOSPLIT, $0-32
	I64Load b_base+0(FP)
	Tee R2
	Set R0
	Get R2
	I64Load b_len+8(FP)
	I64Add
	Set R1

	Block
		Loop
			// Fewer than eight bytes left: to the byte loop.
			Get R1
			Get R0
			I64Sub
			I64Const $8
			I64LtU
			BrIf $1

			Get R0
			I32WrapI64
			I64Load $0
			I64Const $0x0a0a0a0a0a0a0a0a
			I64Xor
			Tee R3
			I64Const $0x0101010101010101
			I64Sub
			Get R3
			I64Const $-1
			I64Xor
			I64And
			I64Const $-9187201950435737472 // 0x8080808080808080
			I64And
			Tee R4
			I64Eqz
			If
				Get R0
				I64Const $8
				I64Add
				Set R0
				Br $1 // the next word
			End

			Get SP
			Get R0
			Get R2
			I64Sub
			Get R4
			I64Ctz
			I64Const $3
			I64ShrU
			I64Add
			I64Store ret+24(FP)
			RET
		End
	End

	Block
		Loop
			Get R0
			Get R1
			I64GeU
			BrIf $1 // not found

			Get R0
			I32WrapI64
			I64Load8U $0
			I64Const $10
			I64Eq
			If
				Get SP
				Get R0
				Get R2
				I64Sub
				I64Store ret+24(FP)
				RET
			End

			Get R0
			I64Const $1
			I64Add
			Set R0
			Br $0
		End
	End

	Get SP
	I64Const $-1
	I64Store ret+24(FP)
	RET

// func lineEnds(b []byte, ends []int32) int
//
// R0 is the address being tested, R1 the end of b, R2 its start, R5 the
// next entry of ends and R6 the end of ends. Eight bytes at a time, as in
// indexNL, but with the exact test for zero bytes, which never marks a
// byte above another (w has them all): ^(((w&0x7f..7f) + 0x7f..7f) | w |
// 0x7f..7f) has the top bit of exactly the zero bytes.
TEXT ·lineEnds(SB), NOSPLIT, $0-56
	I64Load b_base+0(FP)
	Tee R2
	Set R0
	Get R2
	I64Load b_len+8(FP)
	I64Add
	Set R1
	I64Load ends_base+24(FP)
	Tee R5
	I64Load ends_len+32(FP)
	I64Const $2
	I64Shl
	I64Add
	Set R6

	Block // done
		Block // to the byte loop
			Loop // each word
				Get R1
				Get R0
				I64Sub
				I64Const $8
				I64LtU
				BrIf $1

				Get R0
				I32WrapI64
				I64Load $0
				I64Const $0x0a0a0a0a0a0a0a0a
				I64Xor
				Tee R3
				I64Const $0x7f7f7f7f7f7f7f7f
				I64And
				I64Const $0x7f7f7f7f7f7f7f7f
				I64Add
				Get R3
				I64Or
				I64Const $0x7f7f7f7f7f7f7f7f
				I64Or
				I64Const $-1
				I64Xor
				Set R4

				Block // the word is done
					Loop // each '\n' in the word
						Get R4
						I64Eqz
						BrIf $1

						Get R5
						Get R6
						I64Eq
						BrIf $4 // ends is full

						Get R5
						I32WrapI64
						Get R0
						Get R2
						I64Sub
						Get R4
						I64Ctz
						I64Const $3
						I64ShrU
						I64Add
						I64Store32 $0
						Get R5
						I64Const $4
						I64Add
						Set R5

						Get R4
						Get R4
						I64Const $1
						I64Sub
						I64And
						Set R4
						Br $0
					End
				End

				Get R0
				I64Const $8
				I64Add
				Set R0
				Br $0
			End
		End

		Block
			Loop // each byte of the last seven or fewer
				Get R0
				Get R1
				I64GeU
				BrIf $1

				Get R0
				I32WrapI64
				I64Load8U $0
				I64Const $10
				I64Eq
				If
					Get R5
					Get R6
					I64Eq
					BrIf $3 // ends is full

					Get R5
					I32WrapI64
					Get R0
					Get R2
					I64Sub
					I64Store32 $0
					Get R5
					I64Const $4
					I64Add
					Set R5
				End

				Get R0
				I64Const $1
				I64Add
				Set R0
				Br $0
			End
		End
	End

	Get SP
	Get R5
	I64Load ends_base+24(FP)
	I64Sub
	I64Const $2
	I64ShrU
	I64Store ret+48(FP)
	RET
