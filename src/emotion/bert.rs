//! The encoder's network: BERT as all-MiniLM-L6-v2 lays it out, built from candle-transformers' encoder layers
//! under moodtape's own embeddings and attention mask.
//!
//! candle-transformers' `BertModel` turns the padding mask into an additive one by multiplying it with `f32::MIN`.
//! In bf16 (the GPU's fast precision) that constant rounds to -inf, and the real tokens' `0 × -inf` makes every
//! score NaN. Here the mask is made from [`MASKED`], a number every float type holds exactly: `exp` of it
//! is 0 in f32, bf16 and f16 alike, so f32 results are unchanged and the reduced precisions stay finite.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{embedding, layer_norm, Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, Config};

/// What a padded position adds to an attention score: far below any real score (they stay within ±100), and
/// exact in every float type the encoder runs in (a power of two, well inside f16's largest, 65,504).
pub const MASKED: f32 = -8192.0;

pub struct Bert {
    embeddings: Embeddings,
    encoder: BertEncoder,
    dtype: DType,
}

struct Embeddings {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    norm: LayerNorm,
}

impl Bert {
    /// Loads the weights under their usual names (`embeddings.*`, `encoder.layer.N.*`), with or without a `bert.`
    /// prefix.
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        let vb = unprefixed(vb);
        let dtype = vb.dtype();
        let e = vb.pp("embeddings");
        let embeddings = Embeddings {
            words: embedding(
                config.vocab_size,
                config.hidden_size,
                e.pp("word_embeddings"),
            )?,
            positions: embedding(
                config.max_position_embeddings,
                config.hidden_size,
                e.pp("position_embeddings"),
            )?,
            token_types: embedding(
                config.type_vocab_size,
                config.hidden_size,
                e.pp("token_type_embeddings"),
            )?,
            norm: layer_norm(config.hidden_size, config.layer_norm_eps, e.pp("LayerNorm"))?,
        };
        let encoder = BertEncoder::load(vb.pp("encoder"), config)?;
        Ok(Bert {
            embeddings,
            encoder,
            dtype,
        })
    }

    /// The float type the network computes in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Hidden states (batch, len, hidden) of token ids (batch, len), with `mask` (batch, len) 1 for real tokens
    /// and 0 for padding. Every text is of token type 0, as sentence-transformers reads them.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let device = ids.device();
        let positions = Tensor::arange(0u32, len as u32, device)?;
        let types = Tensor::zeros(len, DType::U32, device)?;
        let xs = self
            .embeddings
            .words
            .forward(ids)?
            .broadcast_add(&self.embeddings.token_types.forward(&types)?)?
            .broadcast_add(&self.embeddings.positions.forward(&positions)?)?;
        let xs = self.embeddings.norm.forward(&xs)?;
        self.encoder.forward(&xs, &additive_mask(mask, self.dtype)?)
    }
}

/// The weights' root: checkpoints saved from a model with heads put BERT's weights under `bert.`.
pub fn unprefixed(vb: VarBuilder) -> VarBuilder {
    if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
        vb.pp("bert")
    } else {
        vb
    }
}

/// The padding mask (batch, len) as what each score gains, (batch, 1, 1, len): 0 for real tokens, [`MASKED`] for
/// padding.
pub fn additive_mask(mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (batch, len) = mask.dims2()?;
    let keep = mask.to_dtype(DType::F32)?;
    // (1 - keep) * MASKED, computed in f32 where it is exact, then cast.
    let add = ((keep - 1.0)? * f64::from(-MASKED))?;
    add.reshape((batch, 1, 1, len))?.to_dtype(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_mask_is_finite_in_every_precision() {
        let mask = Tensor::new(&[[1u32, 1, 0], [1, 0, 0]], &Device::Cpu).unwrap();
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            let add = additive_mask(&mask, dtype)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert_eq!(
                add,
                vec![0.0, 0.0, MASKED, 0.0, MASKED, MASKED],
                "{dtype:?}"
            );
        }
    }
}
