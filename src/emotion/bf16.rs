//! The dense layers of `--precision fast` on the CPU: weights and activations in bf16, products summed in f32 by
//! AVX512-BF16's pair dot product (`vdpbf16ps`), which does twice the multiply-adds of an f32 FMA per instruction.
//! Used only where the CPU has the instructions ([`detected`]); elsewhere `fast` takes the int8 path
//! ([`super::int8`]) or stays in f32 (see [`super::packed::FastPath`]).

/// Whether this CPU has the bf16 kernel's instructions.
#[cfg(target_arch = "x86_64")]
pub fn detected() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
pub fn detected() -> bool {
    false
}

/// Columns per tile: four registers of sixteen f32 lanes.
pub const TILE: usize = 64;

/// f32 to bf16 bits, rounding to nearest even (as the hardware's conversion does).
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// Whether a layer of `inputs` × `outputs` fits the kernel: inputs in pairs, outputs in whole tiles.
pub fn fits(inputs: usize, outputs: usize) -> bool {
    inputs.is_multiple_of(2) && outputs.is_multiple_of(TILE) && inputs > 0 && outputs > 0
}

/// A weight (inputs × outputs, row-major) in the kernel's order: for each tile of 64 columns and each pair of
/// inputs (k, k+1), the 64 columns' (w[k][c], w[k+1][c]) side by side.
pub fn pack_weight(w: &[f32], inputs: usize, outputs: usize) -> Vec<u16> {
    let pairs = inputs / 2;
    let mut out = vec![0u16; inputs * outputs];
    for tile in 0..outputs / TILE {
        for p in 0..pairs {
            let base = (tile * pairs + p) * TILE * 2;
            for c in 0..TILE {
                let col = tile * TILE + c;
                out[base + 2 * c] = to_bf16(w[2 * p * outputs + col]);
                out[base + 2 * c + 1] = to_bf16(w[(2 * p + 1) * outputs + col]);
            }
        }
    }
    out
}

/// Rows of activations (rows × inputs) as bf16 pairs, one u32 per pair (the lower half the even input).
pub fn pack_rows(x: &[f32], rows: usize, inputs: usize, out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        x[..rows * inputs]
            .chunks_exact(2)
            .map(|p| u32::from(to_bf16(p[0])) | (u32::from(to_bf16(p[1])) << 16)),
    );
}

/// `out (rows × outputs) += a (rows × inputs, packed by [`pack_rows`]) · w (packed by [`pack_weight`])`.
///
/// # Panics
/// When the CPU lacks the instructions ([`detected`] says so) or the sizes do not match.
pub fn matmul_acc(
    a: &[u32],
    rows: usize,
    inputs: usize,
    w: &[u16],
    outputs: usize,
    out: &mut [f32],
) {
    assert!(detected(), "the bf16 kernel needs AVX512-BF16");
    assert!(fits(inputs, outputs));
    assert!(a.len() >= rows * inputs / 2 && w.len() == inputs * outputs);
    assert!(out.len() >= rows * outputs);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has AVX-512F and AVX512-BF16 (checked above) and the sizes were checked.
    unsafe {
        x86::matmul_acc(a, rows, inputs / 2, w, outputs, out)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::TILE;

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn matmul_acc(
        a: &[u32],
        rows: usize,
        pairs: usize,
        w: &[u16],
        outputs: usize,
        out: &mut [f32],
    ) {
        for tile in 0..outputs / TILE {
            let wt = w.as_ptr().add(tile * pairs * TILE * 2);
            let col = tile * TILE;
            let mut r = 0;
            while r + 4 <= rows {
                block::<4>(a, r, pairs, wt, outputs, col, out);
                r += 4;
            }
            while r < rows {
                block::<1>(a, r, pairs, wt, outputs, col, out);
                r += 1;
            }
        }
    }

    /// R rows by one tile of 64 columns, the sums kept in registers across all the input pairs.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn block<const R: usize>(
        a: &[u32],
        r: usize,
        pairs: usize,
        wt: *const u16,
        outputs: usize,
        col: usize,
        out: &mut [f32],
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(out.as_ptr().add((r + i) * outputs + col + j * 16));
            }
        }
        let arow = a.as_ptr().add(r * pairs);
        for p in 0..pairs {
            let wp = wt.add(p * TILE * 2);
            let w: [__m512bh; 4] = [
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wp.cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wp.add(32).cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wp.add(64).cast())),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wp.add(96).cast())),
            ];
            for (i, row) in acc.iter_mut().enumerate() {
                let x = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(
                    *arow.add(i * pairs + p) as i32,
                ));
                for (v, wj) in row.iter_mut().zip(&w) {
                    *v = _mm512_dpbf16_ps(*v, x, *wj);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add((r + i) * outputs + col + j * 16), *v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3F80);
        assert_eq!(to_bf16(-2.5), 0xC020);
        // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3F80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3F82);
        assert!(f32::from_bits(u32::from(to_bf16(f32::NAN)) << 16).is_nan());
    }

    #[test]
    fn the_kernel_matches_a_plain_product_of_the_same_bf16_values() {
        if !detected() {
            eprintln!("no AVX512-BF16 here: the kernel is not run, the f32 pass is used instead");
            return;
        }
        let (rows, inputs, outputs) = (7, 10, 128);
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|i| ((i * 53 % 29) as f32 - 14.0) / 9.0)
            .collect();
        let bias: Vec<f32> = (0..rows * outputs).map(|i| i as f32 * 0.01).collect();
        let mut a = Vec::new();
        pack_rows(&x, rows, inputs, &mut a);
        let packed = pack_weight(&w, inputs, outputs);
        let mut out = bias.clone();
        matmul_acc(&a, rows, inputs, &packed, outputs, &mut out);
        let round = |v: f32| f32::from_bits(u32::from(to_bf16(v)) << 16);
        for r in 0..rows {
            for c in 0..outputs {
                let want: f32 = bias[r * outputs + c]
                    + (0..inputs)
                        .map(|k| round(x[r * inputs + k]) * round(w[k * outputs + c]))
                        .sum::<f32>();
                let got = out[r * outputs + c];
                assert!(
                    (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                    "{r},{c}: {got} {want}"
                );
            }
        }
    }
}
