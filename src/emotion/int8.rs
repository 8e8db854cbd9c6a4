//! The dense layers of `--precision fast` on x86-64 CPUs with AVX2 or better (see [`super::packed::FastPath`] for
//! the choice): weights in int8 (one scale per output column), activations in u8 (one scale and zero point per
//! row, chosen from the row as it arrives), products summed exactly in i32. Three kernels, best first:
//! - **AVX512-VNNI** (`vpdpbusd` on 512 bits: 64 u8 × i8 multiply-adds an instruction, four times an f32 FMA's),
//!   on Intel Cascade Lake, Ice Lake and later servers and AMD Zen 4 and later;
//! - **AVX-VNNI** (the same instruction on 256 bits), on Intel Alder Lake and later desktops without AVX-512;
//!   it sums the same integers as AVX512-VNNI, so it gives the same embeddings;
//! - **AVX2** (`vpmaddubsw`, then `vpmaddwd` to widen: 32 multiply-adds in three instructions), on older x86-64
//!   CPUs. `vpmaddubsw` saturates a pair's sum at 2^15, so its weights keep 7 bits (±63) rather than 8.
//!
//! A row x is stored as `u = round(x / s) + z` with `s = (max − min) / 255` over the row (0 always inside the
//! range, so it is exact), and a weight column as `q = round(w / t)` with `t = max |w| / L` (L = 127, or 63 for
//! AVX2); then `x · w ≈ s t (Σ u q − z Σ q)`, the column sums `Σ q` kept with the weight. Every kernel reads the
//! weight in groups of four inputs, each column's four bytes side by side.

/// The int8 kernels this crate has, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Vnni,
    AvxVnni,
    Avx2,
}

impl Kernel {
    /// Whether this CPU runs the kernel.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Kernel::Vnni => {
                    is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx512bw")
                        && is_x86_feature_detected!("avx512vnni")
                }
                Kernel::AvxVnni => {
                    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni")
                }
                Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            false
        }
    }

    /// The instructions it runs on, as `models info` names them.
    pub fn label(self) -> &'static str {
        match self {
            Kernel::Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
        }
    }

    /// Columns per tile of the packed weight: four registers of i32 sums.
    fn tile(self) -> usize {
        match self {
            Kernel::Vnni => 64,
            Kernel::AvxVnni | Kernel::Avx2 => 32,
        }
    }

    /// The largest weight level: AVX2's `vpmaddubsw` must not saturate (2 · 255 · 63 < 2^15).
    fn levels(self) -> f32 {
        match self {
            Kernel::Vnni | Kernel::AvxVnni => 127.0,
            Kernel::Avx2 => 63.0,
        }
    }

    /// Whether a layer of `inputs` × `outputs` fits the kernel's tiles.
    pub fn fits(self, inputs: usize, outputs: usize) -> bool {
        inputs > 0
            && outputs > 0
            && inputs.is_multiple_of(GROUP)
            && outputs.is_multiple_of(self.tile())
    }
}

/// Inputs per step: the four bytes an i32 lane sums.
const GROUP: usize = 4;

/// A weight quantized and packed for one kernel.
pub struct Weight {
    kernel: Kernel,
    /// Per tile of columns and group of 4 inputs, each column's 4 values side by side.
    bytes: Vec<i8>,
    /// Per column: the scale t and Σ q over the inputs.
    scale: Vec<f32>,
    colsum: Vec<i32>,
    inputs: usize,
    outputs: usize,
}

/// Round to nearest, ties to even, without a library call, so loops over rows vectorize (|x| < 2^22).
#[inline(always)]
fn round(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

impl Weight {
    /// Quantizes `w` (inputs × outputs, row-major) per output column and packs it for `kernel`.
    ///
    /// # Panics
    /// When the shape does not fit the kernel ([`Kernel::fits`]).
    pub fn pack(w: &[f32], inputs: usize, outputs: usize, kernel: Kernel) -> Weight {
        assert!(kernel.fits(inputs, outputs) && w.len() == inputs * outputs);
        let mut scale = vec![0f32; outputs];
        for row in w.chunks_exact(outputs) {
            for (s, v) in scale.iter_mut().zip(row) {
                *s = s.max(v.abs());
            }
        }
        let levels = kernel.levels();
        for s in &mut scale {
            *s = if *s > 0.0 && s.is_finite() {
                *s / levels
            } else {
                1.0
            };
        }
        let q =
            |k: usize, c: usize| round(w[k * outputs + c] / scale[c]).clamp(-levels, levels) as i32;
        let mut colsum = vec![0i32; outputs];
        for k in 0..inputs {
            for (c, sum) in colsum.iter_mut().enumerate() {
                *sum += q(k, c);
            }
        }
        let tile = kernel.tile();
        let steps = inputs / GROUP;
        let mut bytes = vec![0i8; inputs * outputs];
        for t in 0..outputs / tile {
            for g in 0..steps {
                let base = (t * steps + g) * tile * GROUP;
                for c in 0..tile {
                    for i in 0..GROUP {
                        bytes[base + c * GROUP + i] = q(g * GROUP + i, t * tile + c) as i8;
                    }
                }
            }
        }
        Weight {
            kernel,
            bytes,
            scale,
            colsum,
            inputs,
            outputs,
        }
    }
}

/// Rows of activations quantized to u8, each with its scale and zero point.
#[derive(Default)]
pub struct Rows {
    values: Vec<u8>,
    scale: Vec<f32>,
    zero: Vec<i32>,
    inputs: usize,
}

impl Rows {
    /// Quantizes `rows` rows of `x` (rows × inputs), reusing this buffer.
    pub fn quantize(&mut self, x: &[f32], rows: usize, inputs: usize) {
        self.values.clear();
        self.values.resize(rows * inputs, 0);
        self.scale.clear();
        self.zero.clear();
        self.inputs = inputs;
        let x = &x[..rows * inputs];
        #[cfg(target_arch = "x86_64")]
        {
            if Kernel::Vnni.supported() {
                // SAFETY: the CPU has AVX-512 (checked above).
                unsafe { quantize_avx512(x, inputs, self) };
                return;
            }
            if Kernel::Avx2.supported() {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                unsafe { quantize_avx2(x, inputs, self) };
                return;
            }
        }
        quantize_rows(x, inputs, self, range_plain);
    }

    pub fn len(&self) -> usize {
        self.scale.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }
}

/// The quantization of [`Rows::quantize`], given each row's smallest and largest value; compiled once per
/// instruction set so its loop vectorizes to the widest registers the CPU has.
#[inline(always)]
fn quantize_rows(x: &[f32], inputs: usize, q: &mut Rows, range: impl Fn(&[f32]) -> (f32, f32)) {
    const MAGIC: f32 = 12_582_912.0;
    for (row, out) in x
        .chunks_exact(inputs)
        .zip(q.values.chunks_exact_mut(inputs))
    {
        let (lo, hi) = range(row);
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let mut s = (hi - lo) / 255.0;
        if !(s > 0.0 && s.is_finite()) {
            s = 1.0;
        }
        let inv = 1.0 / s;
        let z = round(-lo * inv).clamp(0.0, 255.0);
        // Clamped to 0..=255 and added to 1.5 · 2^23, the rounded integer is the low byte of the float's bits.
        for (o, &v) in out.iter_mut().zip(row) {
            let t = v * inv + z;
            let t = if t > 255.0 { 255.0 } else { t };
            let t = if t > 0.0 { t } else { 0.0 };
            *o = (t + MAGIC).to_bits() as u8;
        }
        q.scale.push(s);
        q.zero.push(z as i32);
    }
}

/// A row's smallest and largest value, in plain Rust (NaN is passed over).
fn range_plain(row: &[f32]) -> (f32, f32) {
    row.iter()
        .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_avx512(x: &[f32], inputs: usize, q: &mut Rows) {
    use std::arch::x86_64::*;
    quantize_rows(x, inputs, q, |row| {
        let mut parts = row.chunks_exact(16);
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for c in &mut parts {
            let v = _mm512_loadu_ps(c.as_ptr());
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
        }
        let (l, h) = range_plain(parts.remainder());
        (
            _mm512_reduce_min_ps(lo).min(l),
            _mm512_reduce_max_ps(hi).max(h),
        )
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_avx2(x: &[f32], inputs: usize, q: &mut Rows) {
    use std::arch::x86_64::*;
    quantize_rows(x, inputs, q, |row| {
        let mut parts = row.chunks_exact(8);
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for c in &mut parts {
            let v = _mm256_loadu_ps(c.as_ptr());
            lo = _mm256_min_ps(lo, v);
            hi = _mm256_max_ps(hi, v);
        }
        let (mut l, mut h) = range_plain(parts.remainder());
        let (mut lanes_lo, mut lanes_hi) = ([0f32; 8], [0f32; 8]);
        _mm256_storeu_ps(lanes_lo.as_mut_ptr(), lo);
        _mm256_storeu_ps(lanes_hi.as_mut_ptr(), hi);
        for (a, b) in lanes_lo.iter().zip(&lanes_hi) {
            l = l.min(*a);
            h = h.max(*b);
        }
        (l, h)
    })
}

/// `out (rows × outputs) += rows · w`, dequantized.
///
/// # Panics
/// When the CPU lacks the weight's kernel or the sizes do not match.
pub fn matmul_acc(x: &Rows, w: &Weight, out: &mut [f32]) {
    assert!(
        w.kernel.supported(),
        "the CPU lacks the {} kernel",
        w.kernel.label()
    );
    assert_eq!(x.inputs, w.inputs);
    assert!(out.len() >= x.len() * w.outputs);
    if x.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has the kernel's instructions (checked above) and the sizes were checked.
    unsafe {
        match w.kernel {
            Kernel::Vnni => x86::vnni(x, w, out),
            Kernel::AvxVnni => x86::avx_vnni(x, w, out),
            Kernel::Avx2 => x86::avx2(x, w, out),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Rows, Weight};

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn vnni(x: &Rows, w: &Weight, out: &mut [f32]) {
        let rows = x.len();
        for tile in 0..w.outputs / 64 {
            let mut r = 0;
            while r + 4 <= rows {
                vnni_block::<4>(x, r, w, tile, out);
                r += 4;
            }
            while r < rows {
                vnni_block::<1>(x, r, w, tile, out);
                r += 1;
            }
        }
    }

    /// R rows by one tile of 64 columns, the sums kept in registers across all the inputs.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn vnni_block<const R: usize>(
        x: &Rows,
        r: usize,
        w: &Weight,
        tile: usize,
        out: &mut [f32],
    ) {
        let steps = w.inputs / 4;
        let wt = w.bytes.as_ptr().add(tile * steps * 256);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        let rows: [*const u8; R] =
            std::array::from_fn(|i| x.values.as_ptr().add((r + i) * w.inputs));
        for g in 0..steps {
            let wg = wt.add(g * 256);
            let wv: [__m512i; 4] =
                std::array::from_fn(|j| _mm512_loadu_si512(wg.add(j * 64).cast()));
            for (row, a) in rows.iter().zip(acc.iter_mut()) {
                let u = _mm512_set1_epi32(row.add(g * 4).cast::<i32>().read_unaligned());
                for (v, wj) in a.iter_mut().zip(&wv) {
                    *v = _mm512_dpbusd_epi32(*v, u, *wj);
                }
            }
        }
        let col = tile * 64;
        for (i, a) in acc.iter().enumerate() {
            let z = _mm512_set1_epi32(x.zero[r + i]);
            let s = _mm512_set1_ps(x.scale[r + i]);
            for (j, v) in a.iter().enumerate() {
                let c = col + j * 16;
                let sums = _mm512_loadu_si512(w.colsum.as_ptr().add(c).cast());
                let exact = _mm512_sub_epi32(*v, _mm512_mullo_epi32(z, sums));
                let scale = _mm512_mul_ps(s, _mm512_loadu_ps(w.scale.as_ptr().add(c)));
                let o = out.as_mut_ptr().add((r + i) * w.outputs + c);
                _mm512_storeu_ps(
                    o,
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scale, _mm512_loadu_ps(o)),
                );
            }
        }
    }

    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub unsafe fn avx_vnni(x: &Rows, w: &Weight, out: &mut [f32]) {
        ymm_tiles::<true>(x, w, out)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(x: &Rows, w: &Weight, out: &mut [f32]) {
        ymm_tiles::<false>(x, w, out)
    }

    /// Every tile of 32 columns, two rows at a time.
    #[inline(always)]
    unsafe fn ymm_tiles<const VNNI: bool>(x: &Rows, w: &Weight, out: &mut [f32]) {
        let rows = x.len();
        for tile in 0..w.outputs / 32 {
            let mut r = 0;
            while r + 2 <= rows {
                ymm_block::<2, VNNI>(x, r, w, tile, out);
                r += 2;
            }
            while r < rows {
                ymm_block::<1, VNNI>(x, r, w, tile, out);
                r += 1;
            }
        }
    }

    /// R rows by one tile of 32 columns on 256-bit registers: `vpdpbusd` with AVX-VNNI, else `vpmaddubsw` (pairs
    /// into i16, which 7-bit weights keep from saturating) and `vpmaddwd` by ones (pairs of those into i32).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn ymm_block<const R: usize, const VNNI: bool>(
        x: &Rows,
        r: usize,
        w: &Weight,
        tile: usize,
        out: &mut [f32],
    ) {
        let steps = w.inputs / 4;
        let wt = w.bytes.as_ptr().add(tile * steps * 128);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_si256(); 4]; R];
        let rows: [*const u8; R] =
            std::array::from_fn(|i| x.values.as_ptr().add((r + i) * w.inputs));
        for g in 0..steps {
            let wg = wt.add(g * 128);
            let wv: [__m256i; 4] =
                std::array::from_fn(|j| _mm256_loadu_si256(wg.add(j * 32).cast()));
            for (row, a) in rows.iter().zip(acc.iter_mut()) {
                let u = _mm256_set1_epi32(row.add(g * 4).cast::<i32>().read_unaligned());
                for (v, wj) in a.iter_mut().zip(&wv) {
                    *v = if VNNI {
                        dpbusd(*v, u, *wj)
                    } else {
                        _mm256_add_epi32(*v, _mm256_madd_epi16(_mm256_maddubs_epi16(u, *wj), ones))
                    };
                }
            }
        }
        let col = tile * 32;
        for (i, a) in acc.iter().enumerate() {
            let z = _mm256_set1_epi32(x.zero[r + i]);
            let s = _mm256_set1_ps(x.scale[r + i]);
            for (j, v) in a.iter().enumerate() {
                let c = col + j * 8;
                let sums = _mm256_loadu_si256(w.colsum.as_ptr().add(c).cast());
                let exact = _mm256_sub_epi32(*v, _mm256_mullo_epi32(z, sums));
                let scale = _mm256_mul_ps(s, _mm256_loadu_ps(w.scale.as_ptr().add(c)));
                let o = out.as_mut_ptr().add((r + i) * w.outputs + c);
                _mm256_storeu_ps(
                    o,
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), scale, _mm256_loadu_ps(o)),
                );
            }
        }
    }

    /// AVX-VNNI's `vpdpbusd`, only ever reached from [`avx_vnni`], which the CPU was checked to run.
    #[target_feature(enable = "avx2,avxvnni")]
    #[inline]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, w: __m256i) -> __m256i {
        _mm256_dpbusd_avx_epi32(acc, u, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rows: usize, inputs: usize, outputs: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let x = (0..rows * inputs)
            .map(|i| ((i * 37 % 23) as f32 - 9.0) / 7.0)
            .collect();
        let w = (0..inputs * outputs)
            .map(|i| ((i * 53 % 29) as f32 - 14.0) / 9.0)
            .collect();
        let bias = (0..rows * outputs).map(|i| i as f32 * 0.01).collect();
        (x, w, bias)
    }

    /// The product the kernels must give: the same quantized integers, summed and scaled in plain Rust.
    fn reference(
        x: &Rows,
        w: &[f32],
        (inputs, outputs): (usize, usize),
        bias: &[f32],
        kernel: Kernel,
    ) -> Vec<f32> {
        let packed = Weight::pack(w, inputs, outputs, kernel);
        let q = |k: usize, c: usize| round(w[k * outputs + c] / packed.scale[c]) as i64;
        let mut out = bias.to_vec();
        for r in 0..x.len() {
            for c in 0..outputs {
                let sum: i64 = (0..inputs)
                    .map(|k| (i64::from(x.values[r * inputs + k]) - i64::from(x.zero[r])) * q(k, c))
                    .sum();
                out[r * outputs + c] += sum as f32 * x.scale[r] * packed.scale[c];
            }
        }
        out
    }

    #[test]
    fn quantized_rows_keep_zero_exact_and_stay_within_half_a_step() {
        let x = [-2.0f32, -0.5, 0.0, 0.25, 3.1, 1.0, 0.0, -1.75];
        let mut q = Rows::default();
        q.quantize(&x, 2, 4);
        for r in 0..2 {
            let (s, z) = (q.scale[r], q.zero[r]);
            for k in 0..4 {
                let back = (i32::from(q.values[r * 4 + k]) - z) as f32 * s;
                assert!(
                    (back - x[r * 4 + k]).abs() <= s * 0.5 + 1e-6,
                    "{r},{k}: {back}"
                );
                if x[r * 4 + k] == 0.0 {
                    assert_eq!(back, 0.0);
                }
            }
        }
        // A row of zeros (or one value) still quantizes to something finite.
        q.quantize(&[0.0; 4], 1, 4);
        assert_eq!(q.values, [0; 4]);
        assert!(q.scale[0].is_finite());
    }

    #[test]
    fn each_kernel_gives_exactly_the_integer_product() {
        let (rows, inputs, outputs) = (7, 12, 128);
        let (x, w, bias) = data(rows, inputs, outputs);
        let mut q = Rows::default();
        q.quantize(&x, rows, inputs);
        for kernel in [Kernel::Vnni, Kernel::AvxVnni, Kernel::Avx2] {
            let want = reference(&q, &w, (inputs, outputs), &bias, kernel);
            if !kernel.supported() {
                eprintln!("this CPU lacks {}: not run", kernel.label());
                continue;
            }
            let packed = Weight::pack(&w, inputs, outputs, kernel);
            let mut out = bias.clone();
            matmul_acc(&q, &packed, &mut out);
            for (i, (a, b)) in out.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{}: {i}: {a} {b}",
                    kernel.label()
                );
            }
        }
    }

    #[test]
    fn the_quantized_product_is_close_to_the_float_one() {
        let (rows, inputs, outputs) = (5, 64, 64);
        let (x, w, bias) = data(rows, inputs, outputs);
        let mut q = Rows::default();
        q.quantize(&x, rows, inputs);
        let got = reference(&q, &w, (inputs, outputs), &bias, Kernel::Vnni);
        for r in 0..rows {
            for c in 0..outputs {
                let exact: f32 = bias[r * outputs + c]
                    + (0..inputs)
                        .map(|k| x[r * inputs + k] * w[k * outputs + c])
                        .sum::<f32>();
                let scale: f32 = (0..inputs)
                    .map(|k| (x[r * inputs + k] * w[k * outputs + c]).abs())
                    .sum();
                assert!(
                    (got[r * outputs + c] - exact).abs() < 0.02 * scale,
                    "{r},{c}"
                );
            }
        }
    }
}
