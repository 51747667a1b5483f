//! llama.cpp through `llama-cpp-sys-2` (pinned `=0.1.161`, vendoring llama.cpp 0c1e57098): the
//! reference oracle for our GGUF export and quantisers, and a GGUF runtime (load, tokenize,
//! logits, greedy decoding, LoRA adapters).
//!
//! Follows llama.cpp `include/llama.h` (model/context lifecycle, `llama_decode` with a batch
//! whose every position outputs logits, `llama_set_adapters_lora`, `llama_model_quantize`) and
//! `ggml/include/ggml.h` (`ggml_quantize_chunk`). Every raw pointer stays inside this file;
//! callers see owned Rust values and lifetimes that keep a context from outliving its model.

// FFI to llama.cpp's C API is the point of this crate: each unsafe block is one call with its
// preconditions stated next to it.
#![allow(unsafe_code)]
#![warn(missing_docs)]

use std::ffi::{CString, c_void};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Once;

use cogumi_quant::GgmlType;
use llama_cpp_sys_2 as sys;

/// What went wrong in a llama.cpp call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model or adapter file could not be loaded.
    #[error("{}: llama.cpp could not load it", path.display())]
    Load {
        /// The file.
        path: PathBuf,
    },
    /// `llama_model_quantize` failed.
    #[error("quantizing {} to {}: llama_model_quantize returned {code}", input.display(), output.display())]
    Quantize {
        /// Input file.
        input: PathBuf,
        /// Output file.
        output: PathBuf,
        /// Its return code.
        code: u32,
    },
    /// `llama_decode` failed.
    #[error("llama_decode returned {0}")]
    Decode(i32),
    /// Bad arguments (empty input, wrong sizes, a path that is not UTF-8).
    #[error("{0}")]
    Input(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

static INIT: Once = Once::new();

unsafe extern "C" fn quiet_log(
    _level: sys::ggml_log_level,
    text: *const std::ffi::c_char,
    _: *mut c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the duration of the call.
    let msg = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy();
    tracing::trace!(target: "llama.cpp", "{}", msg.trim_end());
}

/// Initialises the backend once and routes llama.cpp's log to `tracing` (trace level).
fn init() {
    INIT.call_once(|| {
        // SAFETY: both are process-wide initialisers without preconditions.
        unsafe {
            sys::llama_log_set(Some(quiet_log), std::ptr::null_mut());
            sys::llama_backend_init();
        }
    });
}

fn c_path(path: &Path) -> Result<CString> {
    let s = path
        .to_str()
        .ok_or_else(|| Error::Input(format!("{} is not UTF-8", path.display())))?;
    CString::new(s).map_err(|_| Error::Input(format!("{} contains NUL", path.display())))
}

fn ggml_type(ty: GgmlType) -> sys::ggml_type {
    ty.id() as sys::ggml_type
}

/// `ggml_quantize_chunk` (no importance matrix): `values` as rows of `n_per_row`, encoded as
/// llama.cpp encodes them.
pub fn quantize_chunk(ty: GgmlType, values: &[f32], n_per_row: usize) -> Result<Vec<u8>> {
    init();
    if n_per_row == 0
        || !values.len().is_multiple_of(n_per_row)
        || !n_per_row.is_multiple_of(ty.block_size())
    {
        return Err(Error::Input(format!(
            "{} values in rows of {n_per_row} for {ty}",
            values.len()
        )));
    }
    let size = ty
        .row_bytes(values.len())
        .map_err(|e| Error::Input(e.to_string()))?;
    let mut out = vec![0u8; size];
    let rows = (values.len() / n_per_row) as i64;
    // SAFETY: `values` holds rows·n_per_row floats and `out` the exact encoded size; ggml
    // reads and writes only those ranges (start 0, no imatrix).
    let written = unsafe {
        sys::ggml_quantize_chunk(
            ggml_type(ty),
            values.as_ptr(),
            out.as_mut_ptr().cast(),
            0,
            rows,
            n_per_row as i64,
            std::ptr::null(),
        )
    };
    if written != size {
        return Err(Error::Input(format!(
            "ggml wrote {written} bytes, expected {size}"
        )));
    }
    Ok(out)
}

/// `llama_model_quantize(input, output, {ftype, nthread})` with llama-quantize's defaults
/// otherwise; `ftype` is a `general.file_type` value (7 Q8_0, 15 Q4_K_M, 17 Q5_K_M, 18 Q6_K).
pub fn model_quantize(input: &Path, output: &Path, ftype: u32, nthread: i32) -> Result<()> {
    init();
    let (i, o) = (c_path(input)?, c_path(output)?);
    // SAFETY: plain value-returning constructor.
    let mut params = unsafe { sys::llama_model_quantize_default_params() };
    params.ftype = ftype as sys::llama_ftype;
    params.nthread = nthread;
    // SAFETY: both paths are NUL-terminated and live across the call; params is initialised.
    let code = unsafe { sys::llama_model_quantize(i.as_ptr(), o.as_ptr(), &params) };
    if code != 0 {
        return Err(Error::Quantize {
            input: input.into(),
            output: output.into(),
            code,
        });
    }
    Ok(())
}

/// A loaded GGUF model (CPU, memory-mapped).
pub struct Model {
    ptr: NonNull<sys::llama_model>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("n_vocab", &self.n_vocab())
            .finish()
    }
}

// SAFETY: a llama_model is immutable after loading and llama.cpp shares it across contexts
// and threads.
unsafe impl Send for Model {}
// SAFETY: as above.
unsafe impl Sync for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the pointer came from llama_model_load_from_file and is freed once; contexts
        // and adapters borrow the model, so none outlives it.
        unsafe { sys::llama_model_free(self.ptr.as_ptr()) }
    }
}

impl Model {
    /// Loads `path` on the CPU.
    pub fn load(path: &Path) -> Result<Self> {
        init();
        let p = c_path(path)?;
        // SAFETY: plain value-returning constructor.
        let mut params = unsafe { sys::llama_model_default_params() };
        params.n_gpu_layers = 0;
        // SAFETY: the path is NUL-terminated; params is initialised.
        let ptr = unsafe { sys::llama_model_load_from_file(p.as_ptr(), params) };
        NonNull::new(ptr)
            .map(|ptr| Model { ptr })
            .ok_or_else(|| Error::Load { path: path.into() })
    }

    fn vocab(&self) -> *const sys::llama_vocab {
        // SAFETY: the model is alive; the vocab lives as long as the model.
        unsafe { sys::llama_model_get_vocab(self.ptr.as_ptr()) }
    }

    /// Tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        // SAFETY: the vocab pointer is valid while the model is.
        unsafe { sys::llama_vocab_n_tokens(self.vocab()) as usize }
    }

    /// Tokenizes `text` (`add_special`: BOS as the model's metadata says; special tokens in
    /// the text are parsed).
    pub fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<i32>> {
        let mut out = vec![0i32; text.len() + 8];
        for _ in 0..2 {
            // SAFETY: `text` is valid for its length; `out` has room for `out.len()` tokens.
            let n = unsafe {
                sys::llama_tokenize(
                    self.vocab(),
                    text.as_ptr().cast(),
                    text.len() as i32,
                    out.as_mut_ptr(),
                    out.len() as i32,
                    add_special,
                    true,
                )
            };
            if n >= 0 {
                out.truncate(n as usize);
                return Ok(out);
            }
            out.resize((-n) as usize, 0);
        }
        Err(Error::Input("tokenization did not converge".into()))
    }

    /// The text of `tokens`, special tokens rendered.
    pub fn detokenize(&self, tokens: &[i32]) -> String {
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 256];
        for &t in tokens {
            // SAFETY: `buf` has room for `buf.len()` bytes; the token id is checked by llama.cpp.
            let n = unsafe {
                sys::llama_token_to_piece(
                    self.vocab(),
                    t,
                    buf.as_mut_ptr().cast(),
                    buf.len() as i32,
                    0,
                    true,
                )
            };
            if n > 0 {
                bytes.extend_from_slice(&buf[..n as usize]);
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Loads a GGUF LoRA adapter for this model.
    pub fn load_adapter(&self, path: &Path) -> Result<Adapter<'_>> {
        let p = c_path(path)?;
        // SAFETY: the model is alive and the path NUL-terminated; the adapter is owned by the
        // model (freed with it), which the lifetime on `Adapter` enforces.
        let ptr = unsafe { sys::llama_adapter_lora_init(self.ptr.as_ptr(), p.as_ptr()) };
        NonNull::new(ptr)
            .map(|ptr| Adapter {
                ptr,
                _model: PhantomData,
            })
            .ok_or_else(|| Error::Load { path: path.into() })
    }

    /// A context of `n_ctx` positions running on `n_threads` threads, with llama.cpp's default
    /// F16 KV cache.
    pub fn context(&self, n_ctx: u32, n_threads: i32) -> Result<Context<'_>> {
        self.context_with(n_ctx, n_threads, false)
    }

    /// As [`Model::context`], with an F32 KV cache when `f32_cache`: logits then differ from an
    /// f32 reference only by summation order (the F16 cache alone moves them by ~1e-3).
    pub fn context_with(&self, n_ctx: u32, n_threads: i32, f32_cache: bool) -> Result<Context<'_>> {
        // SAFETY: plain value-returning constructor.
        let mut params = unsafe { sys::llama_context_default_params() };
        if f32_cache {
            params.type_k = sys::GGML_TYPE_F32;
            params.type_v = sys::GGML_TYPE_F32;
            // CPU flash attention rounds Q to the cache type's precision path; keep f32 softmax.
            params.flash_attn_type = sys::LLAMA_FLASH_ATTN_TYPE_DISABLED;
        }
        params.n_ctx = n_ctx;
        params.n_batch = n_ctx;
        params.n_ubatch = n_ctx;
        params.n_threads = n_threads;
        params.n_threads_batch = n_threads;
        // SAFETY: the model is alive; the context borrows it for its whole life.
        let ptr = unsafe { sys::llama_init_from_model(self.ptr.as_ptr(), params) };
        NonNull::new(ptr)
            .map(|ptr| Context { ptr, model: self })
            .ok_or_else(|| Error::Input("llama_init_from_model failed".into()))
    }
}

/// A LoRA adapter loaded for a [`Model`].
pub struct Adapter<'m> {
    ptr: NonNull<sys::llama_adapter_lora>,
    _model: PhantomData<&'m Model>,
}

impl std::fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Adapter")
    }
}

/// An inference context over a [`Model`].
pub struct Context<'m> {
    ptr: NonNull<sys::llama_context>,
    model: &'m Model,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Context")
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: created by llama_init_from_model and freed once.
        unsafe { sys::llama_free(self.ptr.as_ptr()) }
    }
}

impl Context<'_> {
    /// Activates exactly these adapters at these scales (an empty slice clears them).
    pub fn set_adapters(&mut self, adapters: &[(&Adapter<'_>, f32)]) -> Result<()> {
        let mut ptrs: Vec<*mut sys::llama_adapter_lora> =
            adapters.iter().map(|(a, _)| a.ptr.as_ptr()).collect();
        let mut scales: Vec<f32> = adapters.iter().map(|(_, s)| *s).collect();
        // SAFETY: both arrays hold `len` entries that live across the call; adapters belong to
        // this context's model (same lifetime).
        let code = unsafe {
            sys::llama_set_adapters_lora(
                self.ptr.as_ptr(),
                ptrs.as_mut_ptr(),
                ptrs.len(),
                scales.as_mut_ptr(),
            )
        };
        if code != 0 {
            return Err(Error::Input(format!(
                "llama_set_adapters_lora returned {code}"
            )));
        }
        Ok(())
    }

    fn clear(&mut self) {
        // SAFETY: the context is alive; clearing its memory (KV cache) has no preconditions.
        unsafe { sys::llama_memory_clear(sys::llama_get_memory(self.ptr.as_ptr()), true) }
    }

    /// Decodes `tokens` at positions `start..` of sequence 0; returns the logits of every
    /// position when `all`, else of the last one.
    fn decode(&mut self, tokens: &[i32], start: i32, all: bool) -> Result<Vec<Vec<f32>>> {
        if tokens.is_empty() {
            return Err(Error::Input("no tokens to decode".into()));
        }
        let n = tokens.len() as i32;
        // SAFETY: allocates n tokens with one sequence id each; freed below.
        let batch = unsafe { sys::llama_batch_init(n, 0, 1) };
        for (i, &t) in tokens.iter().enumerate() {
            // SAFETY: every array of `batch` has `n` entries and seq_id[i] has room for one id.
            unsafe {
                *batch.token.add(i) = t;
                *batch.pos.add(i) = start + i as i32;
                *batch.n_seq_id.add(i) = 1;
                **batch.seq_id.add(i) = 0;
                *batch.logits.add(i) = i8::from(all || i + 1 == tokens.len());
            }
        }
        let mut batch = batch;
        batch.n_tokens = n;
        // SAFETY: the batch is fully initialised for n tokens.
        let code = unsafe { sys::llama_decode(self.ptr.as_ptr(), batch) };
        let vocab = self.model.n_vocab();
        let rows = if code == 0 {
            let picked: Vec<i32> = if all { (0..n).collect() } else { vec![n - 1] };
            picked
                .into_iter()
                .map(|i| {
                    // SAFETY: position i requested logits; llama.cpp returns `vocab` floats.
                    let p = unsafe { sys::llama_get_logits_ith(self.ptr.as_ptr(), i) };
                    // SAFETY: non-null pointers hold `vocab` floats until the next decode.
                    (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, vocab) }.to_vec())
                })
                .collect::<Option<Vec<_>>>()
        } else {
            None
        };
        // SAFETY: allocated by llama_batch_init above.
        unsafe { sys::llama_batch_free(batch) };
        rows.ok_or(Error::Decode(code))
    }

    /// Logits `[len][vocab]` at every position of `tokens`, from an empty cache.
    pub fn eval(&mut self, tokens: &[i32]) -> Result<Vec<Vec<f32>>> {
        self.clear();
        self.decode(tokens, 0, true)
    }

    /// Greedy continuation of `prompt` by `n` tokens, from an empty cache.
    pub fn greedy(&mut self, prompt: &[i32], n: usize) -> Result<Vec<i32>> {
        self.clear();
        let mut last = self.decode(prompt, 0, false)?.pop().unwrap_or_default();
        let mut out = Vec::with_capacity(n);
        for step in 0..n {
            let next = last
                .iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| {
                    if v > b.1 { (i, v) } else { b }
                })
                .0 as i32;
            out.push(next);
            if step + 1 == n {
                break;
            }
            last = self
                .decode(&[next], (prompt.len() + step) as i32, false)?
                .pop()
                .unwrap_or_default();
        }
        Ok(out)
    }
}
