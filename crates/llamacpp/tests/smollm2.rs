//! The embedded SmolLM2-135M-Instruct exported by us loads and runs in llama.cpp: the F32
//! export's logits equal our own model's (burn flex fast path) on a chat prompt, llama.cpp's
//! tokenizer reproduces ours on that prompt, and the Q4_K_M export decodes greedily.

use cogumi_gguf::{ExportOptions, FileType, export_hf};
use cogumi_llamacpp::Model;
use cogumi_model::{LoadOptions, TokenBatch, load};
use cogumi_tokenizer::Tokenizer;

#[test]
fn smollm2_export_runs_in_llama_cpp_with_our_logits() {
    let dir = cogumi_testkit::smollm2_model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let f32_file = tmp.path().join("f32.gguf");
    export_hf(
        &dir,
        &f32_file,
        &ExportOptions::new(FileType::F32),
        |_, _| {},
    )
    .unwrap();

    let tok = Tokenizer::from_dir(&dir).unwrap();
    let text =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let ours_ids = tok.encode(text, false).unwrap();
    let model = Model::load(&f32_file).unwrap();
    let theirs_ids = model.tokenize(text, false).unwrap();
    assert_eq!(
        theirs_ids.iter().map(|&t| t as u32).collect::<Vec<_>>(),
        ours_ids,
        "llama.cpp tokenizes the exported vocabulary as our tokenizer does"
    );

    let mut ctx = model.context_with(256, 2, true).unwrap();
    let theirs = ctx.eval(&theirs_ids).unwrap();
    let ours_model = load(&dir, &LoadOptions::default()).unwrap();
    let logits = ours_model
        .forward_host(&TokenBatch::single(&ours_ids).unwrap(), None)
        .unwrap();
    let mut worst = 0f32;
    for (t, row) in theirs.iter().enumerate() {
        for (a, b) in row.iter().zip(logits.row(0, t)) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst < 2e-3, "max |logit difference| {worst}");

    let q4 = tmp.path().join("q4.gguf");
    export_hf(&dir, &q4, &ExportOptions::new(FileType::Q4KM), |_, _| {}).unwrap();
    let q4_model = Model::load(&q4).unwrap();
    let mut qctx = q4_model.context(256, 2).unwrap();
    let answer = qctx.greedy(&theirs_ids, 8).unwrap();
    let text = q4_model.detokenize(&answer);
    assert!(text.contains("Paris"), "Q4_K_M answers {text:?}");
}
