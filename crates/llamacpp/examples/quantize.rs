//! `llama-quantize IN OUT FTYPE NTHREAD` through `llama_model_quantize`: the peer of
//! `cargo xtask bench quant` (llama.cpp's own quantiser, timed as a process like ours).

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!(
            "usage: quantize IN.gguf OUT.gguf FTYPE NTHREAD  (FTYPE: 7 Q8_0, 15 Q4_K_M, 17 Q5_K_M, 18 Q6_K)"
        );
        std::process::exit(2);
    }
    let (ftype, nthread) = match (args[3].parse(), args[4].parse()) {
        (Ok(f), Ok(n)) => (f, n),
        _ => {
            eprintln!("FTYPE and NTHREAD must be integers");
            std::process::exit(2);
        }
    };
    if let Err(e) = cogumi_llamacpp::model_quantize(
        &PathBuf::from(&args[1]),
        &PathBuf::from(&args[2]),
        ftype,
        nthread,
    ) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
