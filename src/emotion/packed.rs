//! BERT's forward pass on the CPU, written for the CPU rather than through candle's tensors.
//!
//! - **No padding.** A batch's tokens are packed back to back; the dense layers see only real tokens, and
//!   attention runs text by text, so no score is spent on a padded position and no mask is needed.
//! - **Fused steps.** Biases and residuals are written into a matrix product's output before it accumulates, the
//!   attention scale rides on the product, GELU and layer norm work in place. candle makes a new tensor per step
//!   and adds biases and the mask in passes of their own.
//! - **gemm's kernels**, as candle uses them (AVX-512 where the CPU has it, AVX2 otherwise, picked at run time),
//!   one thread per batch: the encoder's workers run batches side by side.
//! - **`--precision fast`**: the dense layers in int8 or bf16, by what the CPU has ([`FastPath`]).
//!
//! It reads the same weights as [`super::bert::Bert`] and, in f32, gives the same embeddings to within float
//! rounding.

use candle_core::{DType, Result, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

use super::int8::{Kernel, Rows, Weight};

pub struct PackedBert {
    /// What the dense layers run in: f32, or `--precision fast`'s path for this CPU.
    path: FastPath,
    hidden: usize,
    heads: usize,
    eps: f32,
    max_positions: usize,
    /// vocab × hidden.
    words: Vec<f32>,
    /// max_positions × hidden.
    positions: Vec<f32>,
    /// Token type 0's row: every text is of type 0.
    type0: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// What `--precision fast` runs the dense layers in on this CPU, best first; attention, softmax and layer norm
/// stay in f32 on every path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPath {
    /// bf16 weights and activations, f32 sums (AVX512-BF16: [`super::bf16`]).
    Bf16,
    /// int8 weights, u8 activations, exact i32 sums (AVX512-VNNI, AVX-VNNI or AVX2: [`super::int8`]).
    Int8(Kernel),
    /// No reduced-precision path: the f32 pass.
    F32,
}

impl FastPath {
    /// The fastest path this CPU has: int8 on AVX512-VNNI (about 1.7x bf16's speed, and every eval score within
    /// 0.005 of f32's), then bf16 on AVX512-BF16, then int8 on AVX-VNNI or AVX2, else f32. `MOODTAPE_CPU_FAST`
    /// narrows the choice on any machine: `f32` forces the fallback, `bf16` or `int8` one kind, `int8-avx-vnni`
    /// or `int8-avx2` one int8 kernel; what the CPU cannot run falls to f32.
    pub fn detect() -> FastPath {
        let asked = std::env::var("MOODTAPE_CPU_FAST").unwrap_or_default();
        let int8 = |k: Kernel| k.supported().then_some(FastPath::Int8(k));
        let bf16 = super::bf16::detected().then_some(FastPath::Bf16);
        let pick = match asked.as_str() {
            "f32" => None,
            "bf16" => bf16,
            "int8" => int8(Kernel::Vnni)
                .or(int8(Kernel::AvxVnni))
                .or(int8(Kernel::Avx2)),
            "int8-avx-vnni" => int8(Kernel::AvxVnni),
            "int8-avx2" => int8(Kernel::Avx2),
            _ => int8(Kernel::Vnni)
                .or(bf16)
                .or(int8(Kernel::AvxVnni))
                .or(int8(Kernel::Avx2)),
        };
        pick.unwrap_or(FastPath::F32)
    }

    /// The number type of the dense layers' weights: `f32`, `bf16` or `int8`.
    pub fn precision(self) -> &'static str {
        match self {
            FastPath::Bf16 => "bf16",
            FastPath::Int8(_) => "int8",
            FastPath::F32 => "f32",
        }
    }

    /// The instructions the dense layers run on: `avx512-bf16`, `avx512-vnni`, `avx-vnni`, `avx2`, or `gemm`
    /// (f32).
    pub fn kernel(self) -> &'static str {
        match self {
            FastPath::Bf16 => "avx512-bf16",
            FastPath::Int8(k) => k.label(),
            FastPath::F32 => "gemm",
        }
    }
}

/// A linear layer's weight as its product reads it.
enum Weights {
    /// Input-major (in × out), for gemm.
    F32(Vec<f32>),
    /// Packed for the bf16 kernel.
    Bf16(Vec<u16>),
    /// Quantized and packed for an int8 kernel.
    Int8(Weight),
}

/// A linear layer: its weight and bias.
struct Dense {
    w: Weights,
    b: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Dense {
    /// A layer from its f32 weight (in × out) and bias, its weight moved to `path`'s kernel when its shape fits
    /// the kernel's tiles (in f32 otherwise).
    fn new(w: Vec<f32>, b: Vec<f32>, inputs: usize, outputs: usize, path: FastPath) -> Dense {
        let w = match path {
            FastPath::Bf16 if super::bf16::fits(inputs, outputs) => {
                Weights::Bf16(super::bf16::pack_weight(&w, inputs, outputs))
            }
            FastPath::Int8(k) if k.fits(inputs, outputs) => {
                Weights::Int8(Weight::pack(&w, inputs, outputs, k))
            }
            _ => Weights::F32(w),
        };
        Dense {
            w,
            b,
            inputs,
            outputs,
        }
    }
}

/// Room for a product's rows in a reduced precision.
#[derive(Default)]
struct Scratch {
    pairs: Vec<u32>,
    rows: Rows,
}

struct Layer {
    /// Query, key and value in one product: hidden → 3 × hidden.
    qkv: Dense,
    out: Dense,
    norm1: Norm,
    up: Dense,
    down: Dense,
    norm2: Norm,
}

fn rows(vb: &VarBuilder, shape: (usize, usize), name: &str) -> Result<Vec<f32>> {
    vb.get(shape, name)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()
}

fn vector(vb: &VarBuilder, n: usize, name: &str) -> Result<Vec<f32>> {
    vb.get(n, name)?.to_dtype(DType::F32)?.to_vec1::<f32>()
}

/// (out × in) row-major, as checkpoints store a linear layer's weight, to (in × out).
fn transpose(w: &[f32], outputs: usize, inputs: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for o in 0..outputs {
        for i in 0..inputs {
            t[i * outputs + o] = w[o * inputs + i];
        }
    }
    t
}

/// A linear layer's weight, input-major (in × out), and its bias.
fn weight_and_bias(vb: &VarBuilder, inputs: usize, outputs: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let w = rows(vb, (outputs, inputs), "weight")?;
    Ok((transpose(&w, outputs, inputs), vector(vb, outputs, "bias")?))
}

fn dense(vb: VarBuilder, inputs: usize, outputs: usize, path: FastPath) -> Result<Dense> {
    let (w, b) = weight_and_bias(&vb, inputs, outputs)?;
    Ok(Dense::new(w, b, inputs, outputs, path))
}

fn norm(vb: VarBuilder, n: usize) -> Result<Norm> {
    Ok(Norm {
        gamma: vector(&vb, n, "weight")?,
        beta: vector(&vb, n, "bias")?,
    })
}

impl PackedBert {
    /// Loads the weights under the names [`super::bert::Bert`] reads. With `fast`, the dense layers run in the
    /// best reduced precision this CPU has ([`FastPath::detect`]); otherwise, and for attention, f32.
    pub fn load(vb: VarBuilder, config: &Config, fast: bool) -> Result<PackedBert> {
        let path = if fast {
            FastPath::detect()
        } else {
            FastPath::F32
        };
        PackedBert::load_with(vb, config, path)
    }

    /// Loads the weights with the dense layers on `path`, which this CPU must be able to run.
    pub fn load_with(vb: VarBuilder, config: &Config, path: FastPath) -> Result<PackedBert> {
        let vb = super::bert::unprefixed(vb);
        let h = config.hidden_size;
        if config.num_attention_heads == 0 || !h.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!(
                "hidden size {h} is not a multiple of {} heads",
                config.num_attention_heads
            );
        }
        let e = vb.pp("embeddings");
        let types = rows(
            &e.pp("token_type_embeddings"),
            (config.type_vocab_size, h),
            "weight",
        )?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            let (q, k, v) = (
                weight_and_bias(&a.pp("self").pp("query"), h, h)?,
                weight_and_bias(&a.pp("self").pp("key"), h, h)?,
                weight_and_bias(&a.pp("self").pp("value"), h, h)?,
            );
            // One (h × 3h) weight: row i holds query, key and value's columns for input i.
            let mut w = Vec::with_capacity(3 * h * h);
            for i in 0..h {
                for (part, _) in [&q, &k, &v] {
                    w.extend_from_slice(&part[i * h..(i + 1) * h]);
                }
            }
            let b = [q.1, k.1, v.1].concat();
            layers.push(Layer {
                qkv: Dense::new(w, b, h, 3 * h, path),
                out: dense(a.pp("output").pp("dense"), h, h, path)?,
                norm1: norm(a.pp("output").pp("LayerNorm"), h)?,
                up: dense(
                    l.pp("intermediate").pp("dense"),
                    h,
                    config.intermediate_size,
                    path,
                )?,
                down: dense(
                    l.pp("output").pp("dense"),
                    config.intermediate_size,
                    h,
                    path,
                )?,
                norm2: norm(l.pp("output").pp("LayerNorm"), h)?,
            });
        }
        Ok(PackedBert {
            path,
            hidden: h,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
            max_positions: config.max_position_embeddings,
            words: rows(&e.pp("word_embeddings"), (config.vocab_size, h), "weight")?,
            positions: rows(
                &e.pp("position_embeddings"),
                (config.max_position_embeddings, h),
                "weight",
            )?,
            type0: types[..h].to_vec(),
            norm: norm(e.pp("LayerNorm"), h)?,
            layers,
        })
    }

    /// The number type of the dense layers' weights: `f32`, `bf16` or `int8`.
    pub fn precision(&self) -> &'static str {
        self.path.precision()
    }

    /// The path the dense layers run on.
    pub fn path(&self) -> FastPath {
        self.path
    }

    /// The mean-pooled, L2-normalised embedding of each text (token ids with [CLS]/[SEP]), in order.
    pub fn embed(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked above).
                return unsafe { self.embed_avx512(batch) };
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                return unsafe { self.embed_avx2(batch) };
            }
        }
        self.embed_body(batch)
    }

    /// [`Self::embed`] compiled for AVX-512, so the element-wise steps (GELU, softmax, layer norm, pooling)
    /// vectorize to its registers. The arithmetic is the same in every copy: Rust never fuses a multiply and an
    /// add on its own, so each gives the same embeddings.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn embed_avx512(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        self.embed_body(batch)
    }

    /// [`Self::embed`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn embed_avx2(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        self.embed_body(batch)
    }

    #[inline(always)]
    fn embed_body(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let h = self.hidden;
        let vocab = self.words.len() / h;
        let lens: Vec<usize> = batch
            .iter()
            .map(|ids| ids.len().min(self.max_positions))
            .collect();
        let tokens: usize = lens.iter().sum();
        let mut x = vec![0f32; tokens * h];
        let mut row = 0;
        for (ids, &len) in batch.iter().zip(&lens) {
            for (p, &id) in ids[..len].iter().enumerate() {
                let id = id as usize;
                if id >= vocab {
                    candle_core::bail!("token id {id} is outside the vocabulary of {vocab}");
                }
                let word = &self.words[id * h..(id + 1) * h];
                let pos = &self.positions[p * h..(p + 1) * h];
                // The order candle adds them in: (word + type) + position.
                for (((out, w), t), q) in x[row * h..(row + 1) * h]
                    .iter_mut()
                    .zip(word)
                    .zip(&self.type0)
                    .zip(pos)
                {
                    *out = (w + t) + q;
                }
                row += 1;
            }
        }
        layer_norm(&mut x, &self.norm, self.eps);

        let longest = lens.iter().copied().max().unwrap_or(0);
        let inter = self.layers.first().map_or(0, |l| l.up.outputs);
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut x1 = vec![0f32; tokens * h];
        let mut mid = vec![0f32; tokens * inter];
        let mut scores = vec![0f32; longest * longest];
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            linear(&layer.qkv, &x, tokens, &mut qkv, None, &mut scratch);
            self.attention(&qkv, &lens, &mut ctx, &mut scores);
            linear(&layer.out, &ctx, tokens, &mut x1, Some(&x), &mut scratch);
            layer_norm(&mut x1, &layer.norm1, self.eps);
            linear(&layer.up, &x1, tokens, &mut mid, None, &mut scratch);
            mid.iter_mut().for_each(|v| *v = gelu(*v));
            linear(&layer.down, &mid, tokens, &mut x, Some(&x1), &mut scratch);
            layer_norm(&mut x, &layer.norm2, self.eps);
        }

        let mut out = Vec::with_capacity(batch.len());
        let mut start = 0;
        for &len in &lens {
            let mut pooled = vec![0f32; h];
            for r in start..start + len {
                for (acc, v) in pooled.iter_mut().zip(&x[r * h..(r + 1) * h]) {
                    *acc += v;
                }
            }
            let n = (len as f32).max(1e-9);
            pooled.iter_mut().for_each(|v| *v /= n);
            let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            pooled.iter_mut().for_each(|v| *v /= norm);
            out.push(pooled);
            start += len;
        }
        Ok(out)
    }

    /// Self-attention of every text on its own tokens: `qkv` holds each token's query, key and value side by
    /// side; each head's context goes to its columns of `ctx`.
    #[inline(always)]
    fn attention(&self, qkv: &[f32], lens: &[usize], ctx: &mut [f32], scores: &mut [f32]) {
        let h = self.hidden;
        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut start = 0;
        for &len in lens {
            if len == 0 {
                continue;
            }
            let base = start * 3 * h;
            for head in 0..self.heads {
                let q = qkv[base + head * d..].as_ptr();
                let k = qkv[base + h + head * d..].as_ptr();
                let v = qkv[base + 2 * h + head * d..].as_ptr();
                let s = &mut scores[..len * len];
                // SAFETY: every pointer with its strides stays inside its slice: text rows start..start+len of
                // `qkv` (3h wide) and `ctx` (h wide), head columns head*d..head*d+d, and `s` is len × len.
                unsafe {
                    // scores = scale × Q Kᵀ (len × d by d × len).
                    gemm::gemm(
                        len,
                        len,
                        d,
                        s.as_mut_ptr(),
                        1,
                        len as isize,
                        false,
                        q,
                        1,
                        (3 * h) as isize,
                        k,
                        (3 * h) as isize,
                        1,
                        0.0,
                        scale,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                for r in s.chunks_exact_mut(len) {
                    softmax(r);
                }
                // SAFETY: as above.
                unsafe {
                    // context = softmax(scores) V (len × len by len × d), into this head's columns.
                    gemm::gemm(
                        len,
                        d,
                        len,
                        ctx[start * h + head * d..].as_mut_ptr(),
                        1,
                        h as isize,
                        false,
                        s.as_ptr(),
                        1,
                        len as isize,
                        v,
                        1,
                        (3 * h) as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            start += len;
        }
    }
}

/// `out = x W + b (+ residual)` for `tokens` rows: the bias (and residual) are written first and the product
/// accumulates onto them. `scratch` is room for the rows in a reduced precision, when the layer runs there.
#[inline(always)]
fn linear(
    layer: &Dense,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
    residual: Option<&[f32]>,
    scratch: &mut Scratch,
) {
    let n = layer.outputs;
    let out = &mut out[..tokens * n];
    match residual {
        Some(res) => {
            for (o, r) in out.chunks_exact_mut(n).zip(res.chunks_exact(n)) {
                for ((o, r), b) in o.iter_mut().zip(r).zip(&layer.b) {
                    *o = r + b;
                }
            }
        }
        None => {
            for o in out.chunks_exact_mut(n) {
                o.copy_from_slice(&layer.b);
            }
        }
    }
    if tokens == 0 {
        return;
    }
    let w = match &layer.w {
        Weights::Bf16(w) => {
            super::bf16::pack_rows(x, tokens, layer.inputs, &mut scratch.pairs);
            super::bf16::matmul_acc(&scratch.pairs, tokens, layer.inputs, w, n, out);
            return;
        }
        Weights::Int8(w) => {
            scratch.rows.quantize(x, tokens, layer.inputs);
            super::int8::matmul_acc(&scratch.rows, w, out);
            return;
        }
        Weights::F32(w) => w,
    };
    // SAFETY: `x` is tokens × inputs, `w` inputs × outputs and `out` tokens × outputs, all row-major and
    // checked by the slicing above (x by the caller's buffers, sized tokens × inputs).
    debug_assert!(x.len() >= tokens * layer.inputs);
    unsafe {
        gemm::gemm(
            tokens,
            n,
            layer.inputs,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            layer.inputs as isize,
            w.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Each row of `x` (rows of the norm's width) normalised in place.
#[inline(always)]
fn layer_norm(x: &mut [f32], norm: &Norm, eps: f32) {
    let n = norm.gamma.len();
    for row in x.chunks_exact_mut(n) {
        let mean = sum(row) / n as f32;
        let mut var = [0f32; 8];
        let mut parts = row.chunks_exact(8);
        for c in &mut parts {
            for (a, v) in var.iter_mut().zip(c) {
                *a += (v - mean) * (v - mean);
            }
        }
        let var = (var.iter().sum::<f32>()
            + parts
                .remainder()
                .iter()
                .map(|v| (v - mean) * (v - mean))
                .sum::<f32>())
            / n as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// A sum in eight lanes, so it vectorizes.
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut parts = xs.chunks_exact(8);
    for c in &mut parts {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + parts.remainder().iter().sum::<f32>()
}

#[inline(always)]
fn softmax(row: &mut [f32]) {
    let max = max(row);
    row.iter_mut().for_each(|v| *v = exp(*v - max));
    let inv = 1.0 / sum(row);
    row.iter_mut().for_each(|v| *v *= inv);
}

/// The largest value, in sixteen lanes so it vectorizes (`f32::max`'s care for NaN keeps a loop scalar; a score
/// is never NaN).
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let mut parts = xs.chunks_exact(16);
    for c in &mut parts {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    let tail = parts.remainder().iter().copied();
    acc.into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// e^x for x ≤ 0 to within 2 ulp, without branches so a loop over a row vectorizes (Cephes' expf polynomial on
/// x − n ln 2, times 2^n built from its bits). Below −87 it gives about 1e-38 instead of flushing to 0, which a
/// softmax cannot tell apart.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 × 2^23: adding and taking it away rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n from its bits: n + 127 (1..=254 here) added to 1.5 · 2^23 lands in the float's low bits, which the shift
    // moves into the exponent (what lies above them shifts out), with no float-to-int conversion to vectorize.
    e * f32::from_bits((n + (127.0 + ROUND)).to_bits() << 23)
}

/// BERT's GELU, with the branch-free erf the vendored candle uses on the CPU.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    (candle_core::op::erf_f32_fast(x * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * x
}

/// The embeddings as one (batch, hidden) tensor, for callers that want candle's shape.
pub fn to_tensor(rows: &[Vec<f32>], device: &candle_core::Device) -> Result<Tensor> {
    let dim = rows.first().map_or(0, Vec::len);
    Tensor::from_vec(rows.concat(), (rows.len(), dim), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_exp_matches_the_exact_one() {
        let mut worst = 0f32;
        for i in 0..=200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
    }

    #[test]
    fn layer_norm_and_softmax_are_exact_enough() {
        let norm = Norm {
            gamma: vec![1.0; 10],
            beta: vec![0.0; 10],
        };
        let mut x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        layer_norm(&mut x, &norm, 1e-12);
        assert!(sum(&x).abs() < 1e-5);
        assert!((x.iter().map(|v| v * v).sum::<f32>() / 10.0 - 1.0).abs() < 1e-5);
        let mut r = vec![1.0, 2.0, 3.0, -50.0];
        softmax(&mut r);
        let e: Vec<f32> = [1f32, 2., 3., -50.]
            .iter()
            .map(|v| (v - 3.0).exp())
            .collect();
        let total: f32 = e.iter().sum();
        for (a, b) in r.iter().zip(&e) {
            assert!((a - b / total).abs() < 1e-6);
        }
    }
}
