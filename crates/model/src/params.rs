//! Named access to every parameter of a [`Llama`], under the names HF transformers and PEFT use
//! (`model.layers.3.self_attn.q_proj.weight`, `…q_proj.lora_A.weight`, `lm_head.weight`), so
//! optimiser state, checkpoints and adapter exports are keyed by stable names rather than
//! burn's per-process `ParamId`s.
//!
//! Dense projection weights are visited in burn layout `[d_in, d_out]` (the transpose of HF's);
//! LoRA factors as `lora_A: [d_in, r]`, `lora_B: [r, d_out]` (the transposes of PEFT's).

use burn::module::Param;
use burn::tensor::{Gradients, Tensor};

use crate::linear::Linear;
use crate::llama::Llama;
use crate::lora::LoraBase;

/// A mutable parameter of rank 1 (norm weights) or 2 (matrices).
pub enum ParamMut<'a> {
    /// `[d]`
    Vector(&'a mut Param<Tensor<1>>),
    /// `[rows, cols]`
    Matrix(&'a mut Param<Tensor<2>>),
}

impl ParamMut<'_> {
    /// The current shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            ParamMut::Vector(p) => p.val().dims().to_vec(),
            ParamMut::Matrix(p) => p.val().dims().to_vec(),
        }
    }

    /// Whether backward computes a gradient for it.
    pub fn is_require_grad(&self) -> bool {
        match self {
            ParamMut::Vector(p) => p.val().is_require_grad(),
            ParamMut::Matrix(p) => p.val().is_require_grad(),
        }
    }

    /// The value without autodiff, flattened to `[numel]`.
    pub fn flat(&self) -> Tensor<1> {
        match self {
            ParamMut::Vector(p) => p.val().inner(),
            ParamMut::Matrix(p) => p.val().inner().reshape([-1]),
        }
    }

    /// Its gradient in `grads`, flattened to `[numel]`.
    pub fn grad_flat(&self, grads: &Gradients) -> Option<Tensor<1>> {
        match self {
            ParamMut::Vector(p) => p.val().grad(grads),
            ParamMut::Matrix(p) => p.val().grad(grads).map(|g| g.reshape([-1])),
        }
    }

    /// Replaces the value with `flat` (`[numel]`) in the current shape, keeping the parameter's
    /// id, and marks it as requiring gradients.
    pub fn set_flat(&mut self, flat: Tensor<1>) {
        match self {
            ParamMut::Vector(p) => **p = p.clone().map(|_| flat.require_grad()),
            ParamMut::Matrix(p) => {
                let dims = p.val().dims();
                **p = p.clone().map(|_| flat.reshape(dims).require_grad());
            }
        }
    }
}

/// Which kind of weight a name refers to (for weight-decay and target rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Token embedding.
    Embedding,
    /// RMSNorm scale.
    Norm,
    /// A dense projection weight (including an untied LM head).
    Projection,
    /// LoRA `A` factor.
    LoraA,
    /// LoRA `B` factor.
    LoraB,
}

/// The seven projection names of a Llama block, in HF order, with their module prefix.
pub const PROJECTIONS: [(&str, &str); 7] = [
    ("self_attn", "q_proj"),
    ("self_attn", "k_proj"),
    ("self_attn", "v_proj"),
    ("self_attn", "o_proj"),
    ("mlp", "gate_proj"),
    ("mlp", "up_proj"),
    ("mlp", "down_proj"),
];

impl Llama {
    /// Mutable access to one block's projection, by short name (`q_proj`, …, `down_proj`).
    pub fn projection_mut(&mut self, layer: usize, name: &str) -> Option<&mut Linear> {
        let b = self.layers.get_mut(layer)?;
        Some(match name {
            "q_proj" => &mut b.self_attn.q_proj,
            "k_proj" => &mut b.self_attn.k_proj,
            "v_proj" => &mut b.self_attn.v_proj,
            "o_proj" => &mut b.self_attn.o_proj,
            "gate_proj" => &mut b.mlp.gate_proj,
            "up_proj" => &mut b.mlp.up_proj,
            "down_proj" => &mut b.mlp.down_proj,
            _ => return None,
        })
    }

    /// Shared access to one block's projection, by short name.
    pub fn projection(&self, layer: usize, name: &str) -> Option<&Linear> {
        let b = self.layers.get(layer)?;
        Some(match name {
            "q_proj" => &b.self_attn.q_proj,
            "k_proj" => &b.self_attn.k_proj,
            "v_proj" => &b.self_attn.v_proj,
            "o_proj" => &b.self_attn.o_proj,
            "gate_proj" => &b.mlp.gate_proj,
            "up_proj" => &b.mlp.up_proj,
            "down_proj" => &b.mlp.down_proj,
            _ => return None,
        })
    }

    /// Replaces every block projection with `f(layer, group, proj, old)`, e.g. to wrap it in
    /// LoRA; the HF module name is `model.layers.{layer}.{group}.{proj}`.
    pub fn map_projections<E>(
        &mut self,
        mut f: impl FnMut(usize, &str, &str, Linear) -> Result<Linear, E>,
    ) -> Result<(), E> {
        for i in 0..self.layers.len() {
            for (group, proj) in PROJECTIONS {
                let slot = self.projection_mut(i, proj).expect("known projection name");
                // Swap in a cheap placeholder while `f` owns the layer.
                let old = std::mem::replace(slot, placeholder(slot));
                *slot = f(i, group, proj, old)?;
            }
        }
        Ok(())
    }

    /// Calls `f(name, kind, param)` for every parameter, in a fixed order.
    pub fn visit_params_mut(&mut self, f: &mut dyn FnMut(&str, ParamKind, ParamMut<'_>)) {
        f(
            "model.embed_tokens.weight",
            ParamKind::Embedding,
            ParamMut::Matrix(&mut self.embed_tokens),
        );
        for (i, block) in self.layers.iter_mut().enumerate() {
            let p = format!("model.layers.{i}");
            f(
                &format!("{p}.input_layernorm.weight"),
                ParamKind::Norm,
                ParamMut::Vector(&mut block.input_layernorm.weight),
            );
            f(
                &format!("{p}.post_attention_layernorm.weight"),
                ParamKind::Norm,
                ParamMut::Vector(&mut block.post_attention_layernorm.weight),
            );
            let a = &mut block.self_attn;
            let m = &mut block.mlp;
            let projs: [(&str, &mut Linear); 7] = [
                ("self_attn.q_proj", &mut a.q_proj),
                ("self_attn.k_proj", &mut a.k_proj),
                ("self_attn.v_proj", &mut a.v_proj),
                ("self_attn.o_proj", &mut a.o_proj),
                ("mlp.gate_proj", &mut m.gate_proj),
                ("mlp.up_proj", &mut m.up_proj),
                ("mlp.down_proj", &mut m.down_proj),
            ];
            for (name, lin) in projs {
                visit_linear(&format!("{p}.{name}"), lin, f);
            }
        }
        f(
            "model.norm.weight",
            ParamKind::Norm,
            ParamMut::Vector(&mut self.norm.weight),
        );
        if let Some(head) = self.lm_head.as_mut() {
            visit_linear("lm_head", head, f);
        }
    }
}

fn visit_linear(prefix: &str, lin: &mut Linear, f: &mut dyn FnMut(&str, ParamKind, ParamMut<'_>)) {
    match lin {
        Linear::Dense(d) => f(
            &format!("{prefix}.weight"),
            ParamKind::Projection,
            ParamMut::Matrix(&mut d.weight),
        ),
        Linear::Nf4(_) => {}
        Linear::Lora(l) => {
            if let LoraBase::Dense(d) = &mut l.base {
                f(
                    &format!("{prefix}.base_layer.weight"),
                    ParamKind::Projection,
                    ParamMut::Matrix(&mut d.weight),
                );
            }
            f(
                &format!("{prefix}.lora_A.weight"),
                ParamKind::LoraA,
                ParamMut::Matrix(&mut l.lora_a),
            );
            f(
                &format!("{prefix}.lora_B.weight"),
                ParamKind::LoraB,
                ParamMut::Matrix(&mut l.lora_b),
            );
        }
    }
}

/// A 1×1 dense layer standing in for a projection while it is being replaced.
fn placeholder(like: &Linear) -> Linear {
    let device = match like {
        Linear::Dense(d) => d.weight.val().device(),
        Linear::Lora(l) => l.lora_a.val().device(),
        Linear::Nf4(_) => burn::tensor::Device::flex(),
    };
    Linear::Dense(crate::linear::DenseLinear::from_data(
        burn::tensor::TensorData::new(vec![0.0f32], [1, 1]),
        &device,
    ))
}

impl Llama {
    /// Keeps the blocks at `keep` (strictly increasing indices) and drops the rest: the
    /// layer-selection initialisation of a distilled student (DistilBERT, Sanh et al. 2019, §3;
    /// "keep k of n layers").
    pub fn keep_layers(mut self, keep: &[usize]) -> crate::Result<Self> {
        let n = self.layers.len();
        if keep.is_empty() || keep.windows(2).any(|w| w[0] >= w[1]) || keep[keep.len() - 1] >= n {
            return Err(crate::Error::Input(format!(
                "layer selection {keep:?} must be non-empty, strictly increasing and below {n}"
            )));
        }
        let mut kept = Vec::with_capacity(keep.len());
        for (i, block) in std::mem::take(&mut self.layers).into_iter().enumerate() {
            if keep.contains(&i) {
                kept.push(block);
            }
        }
        self.layers = kept;
        self.config.num_hidden_layers = keep.len();
        Ok(self)
    }
}
