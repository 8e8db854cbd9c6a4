//! The sentence encoder: BERT ([`super::bert`]) over all-MiniLM-L6-v2, mask-aware mean pooling, L2-normalised
//! output. Texts are sorted by token count and batched so padding stays small; results come back in input order.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

use super::bert::Bert;
use super::packed::PackedBert;
use tokenizers::Tokenizer;

use super::fetch::ModelFiles;
use super::EngineError;

/// The longest input the encoder is given, in tokens (special tokens included).
pub const MAX_TOKENS: usize = 256;

/// The network an encoder runs: [`PackedBert`] on the CPU (in f32, or with `fast` its dense layers in int8 or
/// bf16), candle's tensors ([`Bert`]) on a GPU.
enum Net {
    Candle(Bert),
    Packed(PackedBert),
}

/// What an encoder on the CPU runs: candle's tensors, or moodtape's packed pass (its dense layers in int8 or bf16
/// with `fast`, by what the CPU has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPass {
    Candle,
    Packed { fast: bool },
}

pub struct Encoder {
    net: Net,
    tokenizer: Tokenizer,
    device: Device,
    pub hidden_size: usize,
    /// Batches run on this many threads at once (CPU); see [`Encoder::use_workers`].
    workers: usize,
}

impl Encoder {
    /// Loads the encoder from its files. `overlay` holds tensors (by their names in the encoder) that replace the
    /// originals: the top layer fine-tuned by `moodtape train` ships this way inside the heads file.
    ///
    /// On the CPU in f32 it runs as `cpu` says; on a GPU or in another dtype, candle's tensors.
    pub fn load(
        files: &ModelFiles,
        overlay: &HashMap<String, Tensor>,
        device: &Device,
        dtype: DType,
        cpu: CpuPass,
    ) -> Result<Encoder, EngineError> {
        let config_text = std::fs::read_to_string(files.config()).map_err(|e| {
            EngineError::Load(format!("cannot read {}: {e}", files.config().display()))
        })?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| {
            EngineError::Load(format!(
                "{} is not a BERT config: {e}",
                files.config().display()
            ))
        })?;
        let tokenizer = load_tokenizer(&files.tokenizer())?;
        // The weights are memory-mapped; only the tensors are copied out, then the overlay replaces some of them.
        // SAFETY: the file was checked against its sha256 and is not modified while moodtape runs.
        let mmap = unsafe { candle_core::safetensors::MmapedSafetensors::new(files.weights()) }
            .map_err(|e| {
                EngineError::Load(format!("cannot map {}: {e}", files.weights().display()))
            })?;
        let mut tensors = HashMap::new();
        for (name, _) in mmap.tensors() {
            let t = mmap.load(&name, device)?;
            tensors.insert(name, t);
        }
        for (name, t) in overlay {
            if !tensors.contains_key(name) {
                return Err(EngineError::Load(format!(
                    "the heads replace {name}, which the encoder does not have"
                )));
            }
            tensors.insert(name.clone(), t.to_device(device)?);
        }
        let vb = VarBuilder::from_tensors(tensors, dtype, device);
        let net = match cpu {
            CpuPass::Packed { fast } if device.is_cpu() && dtype == DType::F32 => {
                Net::Packed(PackedBert::load(vb, &config, fast)?)
            }
            _ => Net::Candle(Bert::load(vb, &config)?),
        };
        Ok(Encoder::with_net(
            net,
            tokenizer,
            device.clone(),
            config.hidden_size,
        ))
    }

    fn with_net(net: Net, tokenizer: Tokenizer, device: Device, hidden_size: usize) -> Encoder {
        Encoder {
            net,
            tokenizer: plain(tokenizer),
            device,
            hidden_size,
            workers: 1,
        }
    }

    /// The number type the encoder's dense layers run in: `f32`, `bf16` or `int8`.
    pub fn precision(&self) -> &'static str {
        match &self.net {
            Net::Candle(model) => model.dtype().as_str(),
            Net::Packed(net) => net.precision(),
        }
    }

    /// Which network runs: `packed` (moodtape's own CPU pass) or `candle`.
    pub fn net_name(&self) -> &'static str {
        match self.net {
            Net::Candle(_) => "candle",
            Net::Packed(_) => "packed",
        }
    }

    /// An encoder from parts built elsewhere (tests build a tiny random BERT this way).
    pub fn from_parts(
        model: Bert,
        tokenizer: Tokenizer,
        device: Device,
        hidden_size: usize,
    ) -> Encoder {
        Encoder::with_net(Net::Candle(model), tokenizer, device, hidden_size)
    }

    /// On the CPU, runs `n` batches at once, each on one core. candle parallelises only its matrix products, so
    /// with one batch at a time the softmax, GELU, layer norms and copies leave the other cores idle; batches side
    /// by side keep every core busy. Matrix products are made single-threaded (`RAYON_NUM_THREADS=1`) unless the
    /// user set that variable.
    pub fn use_workers(&mut self, n: usize) {
        if !self.device.is_cpu() || n <= 1 {
            self.workers = 1;
            return;
        }
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            // Set before any worker starts; candle reads it on every matrix product.
            std::env::set_var("RAYON_NUM_THREADS", "1");
        }
        self.workers = n;
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of each text with [CLS]/[SEP], cut to `MAX_TOKENS`.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EngineError> {
        tokenize_with(&self.tokenizer, texts, MAX_TOKENS)
    }

    /// Tokens in `text` without special tokens.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EngineError> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| EngineError::Tokenize(e.to_string()))?;
        Ok(enc.get_ids().len())
    }

    /// An encoder that runs moodtape's packed CPU pass, from parts built elsewhere (tests).
    pub fn from_packed(model: PackedBert, tokenizer: Tokenizer, hidden_size: usize) -> Encoder {
        Encoder::with_net(Net::Packed(model), tokenizer, Device::Cpu, hidden_size)
    }

    /// The mean-pooled, L2-normalised embedding of each text of one batch, in order.
    pub fn forward_rows(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EngineError> {
        match &self.net {
            Net::Packed(net) => Ok(net.embed(batch)?),
            Net::Candle(_) => Ok(self.forward_ids(batch)?.to_vec2::<f32>()?),
        }
    }

    /// Runs one batch and returns the mean-pooled, L2-normalised embeddings, shape (batch, hidden).
    pub fn forward_ids(&self, batch: &[&[u32]]) -> Result<Tensor, EngineError> {
        let model = match &self.net {
            Net::Packed(net) => {
                return Ok(super::packed::to_tensor(&net.embed(batch)?, &self.device)?)
            }
            Net::Candle(model) => model,
        };
        let (ids, mask) = pad_batch(batch, &self.device)?;
        let hidden = model.forward(&ids, &mask)?;
        // Pooling and the heads run in f32 whatever the encoder computes in.
        let hidden = hidden.to_dtype(DType::F32)?;
        Ok(l2_normalize(&mean_pool(&hidden, &mask)?)?)
    }

    /// Embeds texts in batches of similar length; the result is in input order.
    pub fn embed(&self, texts: &[&str], batch_size: usize) -> Result<Vec<Vec<f32>>, EngineError> {
        let ids = self.tokenize(texts)?;
        self.embed_ids(&ids, batch_size)
    }

    /// Embeds tokenized texts in batches of similar length; the result is in input order.
    pub fn embed_ids(
        &self,
        ids: &[Vec<u32>],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let batches = length_batches(ids, batch_size.max(1));
        let slices =
            |batch: &[usize]| -> Vec<&[u32]> { batch.iter().map(|&i| ids[i].as_slice()).collect() };
        let run = |batch: &[usize]| self.forward_rows(&slices(batch));
        let mut out = vec![Vec::new(); ids.len()];
        if !self.device.is_cpu() {
            // A GPU runs its work in order, while this thread goes on: every batch is queued before any result is
            // read back, so the GPU never waits for this thread to pad the next batch or copy out the last.
            let mut pending = Vec::with_capacity(batches.len());
            for batch in &batches {
                pending.push(self.forward_ids(&slices(batch))?);
            }
            for (batch, rows) in batches.iter().zip(pending) {
                for (&i, row) in batch.iter().zip(rows.to_vec2::<f32>()?) {
                    out[i] = row;
                }
            }
            return Ok(out);
        }
        let workers = self.workers.min(batches.len()).max(1);
        if workers == 1 {
            for batch in &batches {
                for (&i, row) in batch.iter().zip(run(batch)?) {
                    out[i] = row;
                }
            }
            return Ok(out);
        }
        // Workers take the next batch from a shared counter (longest first), so they finish together.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<Vec<BatchRows>, EngineError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(batch) = batches.get(b) else { break };
                            done.push((b, run(batch)?));
                        }
                        Ok(done)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EngineError::Load("an encoder worker failed".into()))
                    })
                })
                .collect()
        });
        for result in results {
            for (b, rows) in result? {
                for (&i, row) in batches[b].iter().zip(rows) {
                    out[i] = row;
                }
            }
        }
        Ok(out)
    }
}

/// Loads `tokenizer.json` with its own padding and truncation turned off: the file pads every text to 128
/// tokens, while moodtape pads each batch to its longest text and cuts texts in [`tokenize_with`].
pub fn load_tokenizer(path: &std::path::Path) -> Result<Tokenizer, EngineError> {
    let tokenizer = Tokenizer::from_file(path)
        .map_err(|e| EngineError::Load(format!("cannot load {}: {e}", path.display())))?;
    Ok(plain(tokenizer))
}

fn plain(mut tokenizer: Tokenizer) -> Tokenizer {
    tokenizer.with_padding(None);
    let _ = tokenizer.with_truncation(None);
    tokenizer
}

/// Token ids of each text with [CLS]/[SEP], cut to `max` tokens (the closing [SEP] is kept). The tokenizer
/// shares the texts out between rayon's threads.
pub fn tokenize_with(
    tokenizer: &Tokenizer,
    texts: &[&str],
    max: usize,
) -> Result<Vec<Vec<u32>>, EngineError> {
    let encodings = tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| EngineError::Tokenize(e.to_string()))?;
    Ok(encodings
        .into_iter()
        .map(|e| cut(e.get_ids().to_vec(), max))
        .collect())
}

/// [`tokenize_with`] on this thread alone, for callers that already share work out between threads: the
/// tokenizer's own parallel batch, called from many threads at once, queues them all on rayon's pool (in
/// `analyze` that made tokenizing a song's chunks ten times slower than counting its lines' tokens).
pub fn tokenize_here(
    tokenizer: &Tokenizer,
    texts: &[&str],
    max: usize,
) -> Result<Vec<Vec<u32>>, EngineError> {
    texts
        .iter()
        .map(|t| {
            let e = tokenizer
                .encode(*t, true)
                .map_err(|e| EngineError::Tokenize(e.to_string()))?;
            Ok(cut(e.get_ids().to_vec(), max))
        })
        .collect()
}

/// Token ids cut to `max`, keeping the closing [SEP].
pub fn cut(mut ids: Vec<u32>, max: usize) -> Vec<u32> {
    if ids.len() > max {
        let last = ids[ids.len() - 1];
        ids.truncate(max.saturating_sub(1));
        ids.push(last);
    }
    ids
}

/// A batch's index and its embeddings.
type BatchRows = (usize, Vec<Vec<f32>>);

/// A batch holds at most this many tokens, padding included, so long texts come in smaller batches and memory
/// stays flat.
pub const BATCH_TOKENS: usize = 4096;

/// Indices of `ids` grouped into batches of similar length (longest first, so memory peaks early), each with at
/// most `batch_size` texts and [`BATCH_TOKENS`] tokens, or 128 per text for big (GPU) batches (a single text may
/// exceed it alone).
pub fn length_batches(ids: &[Vec<u32>], batch_size: usize) -> Vec<Vec<usize>> {
    let cap = BATCH_TOKENS.max(batch_size * 128);
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids[b].len().cmp(&ids[a].len()).then(a.cmp(&b)));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted longest first: the batch's first text sets its padded length.
        let longest = current
            .first()
            .map_or(ids[i].len(), |&f| ids[f].len())
            .max(1);
        if !current.is_empty()
            && (current.len() >= batch_size.max(1) || (current.len() + 1) * longest > cap)
        {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Pads token ids with 0 to the longest in the batch; returns ids and the attention mask, both (batch, len).
pub fn pad_batch(batch: &[&[u32]], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let len = batch.iter().map(|b| b.len()).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(batch.len() * len);
    let mut mask = Vec::with_capacity(batch.len() * len);
    for row in batch {
        ids.extend_from_slice(row);
        ids.extend(std::iter::repeat_n(0u32, len - row.len()));
        mask.extend(std::iter::repeat_n(1u32, row.len()));
        mask.extend(std::iter::repeat_n(0u32, len - row.len()));
    }
    Ok((
        Tensor::from_vec(ids, (batch.len(), len), device)?,
        Tensor::from_vec(mask, (batch.len(), len), device)?,
    ))
}

/// Mean of the hidden states over the real (unmasked) tokens: (batch, len, hidden) -> (batch, hidden).
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(hidden.dtype())?.unsqueeze(D::Minus1)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    summed.broadcast_div(&counts)
}

/// Each row scaled to unit length.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_gelu_of_the_vendored_candle_matches_the_exact_one() {
        // BERT's GELU in f32 takes a branch-free erf (vendor/README.md); the f64 path keeps the exact libm erf.
        let xs: Vec<f64> = (-4000..=4000).map(|i| f64::from(i) * 0.0025).collect();
        let exact = Tensor::new(xs.as_slice(), &Device::Cpu)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let fast = Tensor::new(xs32.as_slice(), &Device::Cpu)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let worst = xs
            .iter()
            .zip(exact.iter().zip(&fast))
            .map(|(x, (e, f))| (f64::from(*f) - e).abs() / (1.0 + x.abs()))
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "worst error {worst}");
    }

    #[test]
    fn mean_pool_ignores_padding() {
        let dev = Device::Cpu;
        // Two rows; the second has one real token and one padded token holding garbage.
        let hidden =
            Tensor::new(&[[[1f32, 2.], [3., 4.]], [[5., 6.], [100., 100.]]], &dev).unwrap();
        let mask = Tensor::new(&[[1u32, 1], [1, 0]], &dev).unwrap();
        let pooled = mean_pool(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(pooled, vec![vec![2., 3.], vec![5., 6.]]);
        let n = l2_normalize(&Tensor::new(&[[3f32, 4.]], &dev).unwrap())
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!((n[0][0] - 0.6).abs() < 1e-6 && (n[0][1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn batches_group_similar_lengths_and_cover_everything() {
        let ids: Vec<Vec<u32>> = [5, 1, 9, 3, 9, 2, 7].iter().map(|&n| vec![1; n]).collect();
        let batches = length_batches(&ids, 3);
        assert_eq!(batches, vec![vec![2, 4, 6], vec![0, 3, 5], vec![1]]);
        // Long texts come in smaller batches.
        let long: Vec<Vec<u32>> = (0..40).map(|i| vec![1; 200 + i]).collect();
        let batches = length_batches(&long, 32);
        assert!(
            batches
                .iter()
                .all(|b| b.len() * long[b[0]].len() <= BATCH_TOKENS),
            "{batches:?}"
        );
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 40);
        let (t, m) = pad_batch(&[&[1, 2, 3], &[4]], &Device::Cpu).unwrap();
        assert_eq!(
            t.to_vec2::<u32>().unwrap(),
            vec![vec![1, 2, 3], vec![4, 0, 0]]
        );
        assert_eq!(
            m.to_vec2::<u32>().unwrap(),
            vec![vec![1, 1, 1], vec![1, 0, 0]]
        );
    }
}
