//! Parsing of llama.cpp-style command lines and `LLAMA_ARG_*` environment variables.

use super::*;
use std::sync::Mutex;

/// Environment variables are process-wide: tests that set them, and every parse (which reads
/// them), take this lock.
static ENV: Mutex<()> = Mutex::new(());

fn args(a: &[&str]) -> Vec<String> {
    std::iter::once("llama-server")
        .chain(["-m", "m.gguf"])
        .chain(a.iter().copied())
        .map(String::from)
        .collect()
}

fn try_parse(a: &[&str]) -> Result<Cli, clap::Error> {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    Cli::try_parse_llama(args(a))
}

fn parse(a: &[&str]) -> Cli {
    try_parse(a).expect("parses")
}

/// Parses `a` with `vars` set, removing them afterwards.
fn parse_with_env(vars: &[(&str, &str)], a: &[&str]) -> Result<Cli, clap::Error> {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let cli = Cli::try_parse_llama(args(a));
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    cli
}

#[test]
fn llama_cpp_spellings_parse() {
    let cli = parse(&[
        "-np", "2", "-ngl", "99", "-ub", "128", "-c", "1024", "-n", "16", "-nr", "-tb", "3",
    ]);
    assert_eq!(cli.parallel, 2);
    assert_eq!(cli.n_gpu_layers, 99);
    assert_eq!(cli.ubatch_size, 128);
    assert_eq!(cli.context_sizes(8192), (1024, 512), "-np 2 splits -c");
    assert!(!cli.kv_unified());
    assert_eq!(cli.n_predict, 16);
    assert!(cli.no_repack && !cli.repack_enabled());
    assert!(parse(&["-nr", "--repack"]).repack_enabled());
    assert!(!parse(&["--repack=false"]).repack_enabled());
    assert_eq!(parse(&["-cb"]).cont_batching, Some(true));
    let no_cb = parse_with_env(&[("LLAMA_ARG_CONT_BATCHING", "0")], &[]);
    assert!(no_cb.is_err_and(|e| e.to_string().contains("continuous batching")));
    assert_eq!(cli.threads_batch, Some(3));
    assert_eq!(parse(&["-np=3"]).parallel, 3);
    assert_eq!(parse(&["-ngl", "all"]).n_gpu_layers, usize::MAX);
    assert_eq!(parse(&["--gpu-layers", "auto"]).n_gpu_layers, usize::MAX);
}

#[test]
fn defaults_match_llama_cpp() {
    let cli = parse(&[]);
    assert_eq!(
        (cli.ctx_size, cli.parallel, cli.batch_size, cli.ubatch_size),
        (0, -1, 2048, 512)
    );
    // llama.cpp: -c 0 is the training context; -np auto is 4 slots over a unified KV pool
    // where each slot may use the whole context.
    assert_eq!((cli.n_parallel(), cli.kv_unified()), (4, true));
    assert_eq!(cli.context_sizes(8192), (8192, 8192));
    assert_eq!(parse(&["-c", "100000"]).context_sizes(8192), (100000, 8192));
    assert_eq!(
        parse(&["-np", "4", "-kvu"]).context_sizes(8192),
        (8192, 8192)
    );
    assert_eq!(parse(&["-no-kvu"]).context_sizes(8192), (8192, 2048));
    assert!(Cli::try_parse_llama(args(&["-np", "0"])).is_err());
    assert_eq!((cli.host.as_str(), cli.port), ("127.0.0.1", 8080));
    assert_eq!(cli.flash_attn, FlashAttn::Auto);
    assert!(!cli.swa_full, "llama.cpp keeps only the window by default");
    assert!(parse(&["--swa-full"]).swa_full);
    assert!(
        cli.flash_attn_enabled(),
        "auto resolves to on, as on llama.cpp's CPU backend"
    );
    assert_eq!(cli.timeout, 3600);
    assert_eq!(cli.n_predict, -1);
    assert_eq!(
        (cli.threads, cli.n_threads(), cli.threads_http),
        (None, None, -1)
    );
    assert!(cli.slots_enabled());
    assert_eq!(
        cli.sampling_defaults().ok(),
        Some(SamplingParams::default())
    );
    assert!(!cli.otel_ggml_ops, "ggml op timing is opt-in");
    assert!(parse(&["--otel-ggml-ops"]).otel_ggml_ops);
    assert!(!cli.otel_trace_probes, "probes are untraced by default");
    assert!(parse(&["--otel-trace-probes"]).otel_trace_probes);
    assert_eq!(parse(&["-t", "-1"]).n_threads(), None);
}

#[test]
fn flash_attn_values() {
    for (a, want, on) in [
        (&["-fa", "on"][..], FlashAttn::On, true),
        (&["-fa", "off"][..], FlashAttn::Off, false),
        (&["--flash-attn", "auto"][..], FlashAttn::Auto, true),
        (&["-fa", "enabled"][..], FlashAttn::On, true),
        (&["-fa", "0"][..], FlashAttn::Off, false),
        (&["-fa", "-1"][..], FlashAttn::Auto, true),
        (&["-fa=off"][..], FlashAttn::Off, false),
    ] {
        let cli = parse(a);
        assert_eq!(
            (cli.flash_attn, cli.flash_attn_enabled()),
            (want, on),
            "{a:?}"
        );
    }
    assert!(!parse(&["--no-flash-attn"]).flash_attn_enabled());
    assert!(!parse(&["-fa", "on", "--no-fa"]).flash_attn_enabled());
    let err = try_parse(&["-fa", "maybe"])
        .expect_err("bad value")
        .to_string();
    assert!(err.contains("maybe"), "{err}");
}

#[test]
fn server_flags_parse() {
    let cli = parse(&[
        "-to",
        "30",
        "--jinja",
        "--metrics",
        "--props",
        "--no-webui",
        "--threads-http",
        "3",
    ]);
    assert_eq!(cli.timeout, 30);
    assert!(cli.jinja && cli.endpoints.metrics && cli.endpoints.props && cli.endpoints.no_webui);
    assert_eq!(parse(&["--ui"]).endpoints.webui, Some(true));
    assert_eq!(cli.threads_http, 3);
    assert!(parse(&["--no-jinja"]).no_jinja);
    assert!(!parse(&["--no-slots"]).slots_enabled());
    assert!(parse(&["--no-slots", "--slots"]).slots_enabled());
    assert!(!parse(&["--slots", "--no-slots"]).slots_enabled());
    assert!(!parse(&["--slots=false"]).slots_enabled());
    let cli = parse(&[
        "-v",
        "--log-disable",
        "--log-file",
        "x.log",
        "--log-colors",
        "off",
    ]);
    assert!(cli.log.verbose && cli.log.log_disable);
    assert_eq!(cli.log.log_colors.as_deref(), Some("off"));
    assert!(parse(&["--log-verbose", "-lv", "4"]).log.verbose);
    assert!(try_parse(&["--log-colors", "rainbow"]).is_err());
}

#[test]
fn sampling_flags_become_request_defaults() {
    let cli = parse(&[
        "--temp",
        "0",
        "--top-k",
        "5",
        "--top-p",
        "0.5",
        "--min-p",
        "0.1",
        "--repeat-penalty",
        "1.1",
        "--repeat-last-n",
        "-1",
        "--presence-penalty",
        "0.2",
        "--frequency-penalty",
        "-0.3",
        "-s",
        "42",
    ]);
    let p = cli.sampling_defaults().expect("valid");
    assert_eq!(
        (p.temperature, p.top_k, p.top_p, p.min_p),
        (0.0, 5, 0.5, 0.1)
    );
    assert_eq!((p.repeat_penalty, p.penalty_last_n), (1.1, -1));
    assert_eq!((p.presence_penalty, p.frequency_penalty), (0.2, -0.3));
    assert_eq!(p.seed, Some(42));
    assert_eq!(parse(&["--temperature", "0.3"]).sampling.temp, Some(0.3));
    assert_eq!(
        parse(&["--seed", "-1"])
            .sampling_defaults()
            .expect("ok")
            .seed,
        None
    );
    let bad = parse(&["--repeat-last-n", "-5"]).sampling_defaults();
    assert!(bad.is_err(), "{bad:?}");
}

#[test]
fn environment_variables_use_llama_cpp_names() {
    let cli = parse_with_env(
        &[
            ("LLAMA_ARG_CTX_SIZE", "2048"),
            ("LLAMA_ARG_N_PARALLEL", "2"),
            ("LLAMA_ARG_THREADS", "3"),
            ("LLAMA_ARG_N_GPU_LAYERS", "7"),
            ("LLAMA_ARG_BATCH", "256"),
            ("LLAMA_ARG_UBATCH", "64"),
            ("LLAMA_ARG_HOST", "0.0.0.0"),
            ("LLAMA_ARG_PORT", "9000"),
            ("LLAMA_ARG_ALIAS", "smol"),
            ("LLAMA_ARG_N_PREDICT", "32"),
            ("LLAMA_ARG_FLASH_ATTN", "off"),
            ("LLAMA_ARG_TIMEOUT", "30"),
            ("LLAMA_ARG_TEMPERATURE", "0"),
            ("LLAMA_ARG_TOP_K", "1"),
            ("LLAMA_ARG_ENDPOINT_SLOTS", "0"),
            ("LLAMA_ARG_JINJA", "true"),
            ("LLAMA_ARG_ENDPOINT_METRICS", "1"),
            ("LLAMA_ARG_THREADS_HTTP", "4"),
            ("LLAMA_ARG_NO_REPACK", "1"),
        ],
        &[],
    )
    .expect("parses");
    assert_eq!(
        (cli.ctx_size, cli.parallel, cli.n_threads()),
        (2048, 2, Some(3))
    );
    assert_eq!(
        (cli.n_gpu_layers, cli.batch_size, cli.ubatch_size),
        (7, 256, 64)
    );
    assert_eq!((cli.host.as_str(), cli.port), ("0.0.0.0", 9000));
    assert_eq!(
        (cli.aliases(), cli.n_predict),
        (vec!["smol".to_string()], 32)
    );
    let many = parse(&["-a", "zeta, alpha,,zeta"]);
    assert_eq!(
        many.aliases(),
        vec!["alpha".to_string(), "zeta".to_string()]
    );
    assert!(!cli.flash_attn_enabled());
    assert_eq!((cli.timeout, cli.threads_http), (30, 4));
    assert_eq!(
        (cli.sampling.temp, cli.sampling.top_k),
        (Some(0.0), Some(1))
    );
    assert!(!cli.slots_enabled() && cli.jinja && cli.endpoints.metrics);
    assert!(!cli.repack_enabled());
    let repack_off = parse_with_env(&[("LLAMA_ARG_REPACK", "0")], &[]).expect("parses");
    assert!(!repack_off.repack_enabled());
    let ui_off = parse_with_env(&[("LLAMA_ARG_UI", "false")], &[]).expect("parses");
    assert_eq!(ui_off.endpoints.webui, Some(false));
    let flag_wins = parse_with_env(&[("LLAMA_ARG_CTX_SIZE", "2048")], &["-c", "512"]);
    assert_eq!(
        flag_wins.expect("parses").ctx_size,
        512,
        "a flag beats its env variable"
    );
    let no_slots = parse_with_env(&[("LLAMA_ARG_NO_ENDPOINT_SLOTS", "1")], &[]);
    assert!(!no_slots.expect("parses").slots_enabled());
    let keys = parse_with_env(&[("LLAMA_API_KEY", "a,b")], &[]).expect("parses");
    assert_eq!(
        keys.api_keys().ok(),
        Some(vec!["a".to_string(), "b".to_string()])
    );
}

#[test]
fn api_key_file_is_merged() {
    let path = std::env::temp_dir().join(format!("llama-server-keys-{}", std::process::id()));
    std::fs::write(&path, "# comment\nk1\n\n k2 \r\n").expect("write key file");
    let file = path.to_string_lossy().into_owned();
    let cli = parse(&["--api-key", "k0", "--api-key-file", &file]);
    let keys = cli.api_keys();
    let _ = std::fs::remove_file(&path);
    assert_eq!(keys.ok(), Some(vec!["k0".into(), "k1".into(), "k2".into()]));
    let missing = parse(&["--api-key-file", "/nonexistent/keys"]).api_keys();
    assert!(missing.is_err_and(|e| e.contains("/nonexistent/keys")));
}

#[test]
fn unsupported_llama_cpp_flags_are_named() {
    for flag in [
        "--lora",
        "--mmproj",
        "-mm",
        "-md",
        "--model-draft",
        "-ctkd",
        "-ctvd",
    ] {
        let err = try_parse(&[flag, "x"]).expect_err(flag);
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("'{flag}'"))
                && msg.contains("llama.cpp flag this server does not support"),
            "{flag}: {msg}"
        );
    }
    let err = try_parse(&["--cache-type-k-draft=q8_0"])
        .expect_err("unsupported")
        .to_string();
    assert!(err.contains("'--cache-type-k-draft'"), "{err}");
    let unknown = try_parse(&["--no-such-flag"])
        .expect_err("unknown")
        .to_string();
    assert!(unknown.contains("--no-such-flag"), "{unknown}");
}

#[test]
fn embedding_flags_parse() {
    let cli = parse(&[]);
    assert!(!cli.embeddings && cli.pooling.is_none());
    assert_eq!(cli.embd_normalize, 2);
    let cli = parse(&["--embedding", "--pooling", "cls", "--embd-normalize", "-1"]);
    assert!(cli.embeddings);
    assert_eq!(cli.pooling, Some(llama_core::Pooling::Cls));
    assert_eq!(cli.embd_normalize, -1);
    assert!(try_parse(&["--pooling", "rank"]).is_err());
}

#[test]
fn tls_and_cors_flags_follow_llama_cpp() {
    let cli = parse_with_env(
        &[
            ("LLAMA_ARG_SSL_KEY_FILE", "/k.pem"),
            ("LLAMA_ARG_SSL_CERT_FILE", "/c.pem"),
        ],
        &[],
    )
    .expect("parses");
    assert_eq!(
        cli.ssl_key_file.as_deref(),
        Some(std::path::Path::new("/k.pem"))
    );
    assert!(
        Cli::try_parse_llama(args(&["--ssl-key-file", "/k.pem"])).is_err(),
        "a key without a certificate"
    );
    let cors = parse(&[]).cors;
    assert_eq!(
        (
            cors.origins.as_str(),
            cors.methods.as_str(),
            cors.headers.as_str()
        ),
        ("*", "GET, POST, DELETE, OPTIONS", "*")
    );
    assert!(cors.credentials());
    assert!(!parse(&["--no-cors-credentials"]).cors.credentials());
    assert_eq!(
        parse(&["--cors-origins", "localhost"]).cors.origins,
        "localhost"
    );
}

#[test]
fn the_live_view_is_on_by_default_and_off_as_llama_cpp_turns_its_ui_off() {
    assert!(parse(&[]).webui_enabled());
    assert!(parse(&["--webui"]).webui_enabled());
    for off in [&["--no-webui"][..], &["--no-ui"], &["--webui=false"]] {
        assert!(!parse(off).webui_enabled(), "{off:?}");
    }
    for env in [("LLAMA_ARG_UI", "0"), ("LLAMA_ARG_NO_UI", "1")] {
        let cli = parse_with_env(&[env], &[]).expect("parses");
        assert!(!cli.webui_enabled(), "{env:?}");
    }
}

#[test]
fn log_flags_become_the_subscriber_settings_as_llama_cpp_means_them() {
    use llama_otel::logs::{Colors, Level, LogFormat, LogStream};
    let default = parse(&[]).log.settings();
    assert_eq!(default.level, Some(Level::INFO));
    assert!(
        default.prefix && default.timestamps,
        "llama.cpp's server turns both on"
    );
    assert_eq!(
        (default.format, default.stream, default.colors),
        (LogFormat::Text, Some(LogStream::Split), Colors::Auto)
    );
    assert_eq!(parse(&["-v"]).log.settings().level, Some(Level::TRACE));
    assert_eq!(parse(&["-lv", "2"]).log.settings().level, Some(Level::WARN));
    assert_eq!(parse(&["--log-verbosity", "0"]).log.settings().level, None);
    let s = parse(&["--no-log-prefix", "--no-log-timestamps", "--log-disable"])
        .log
        .settings();
    assert!(!s.prefix && !s.timestamps && s.stream.is_none());
    assert!(
        parse(&["--no-log-prefix", "--log-prefix"])
            .log
            .settings()
            .prefix
    );
    assert_eq!(
        parse(&["--log-jsonl"]).log.settings().format,
        LogFormat::Json
    );
    assert_eq!(
        parse(&["--log-format", "json"]).log.settings().format,
        LogFormat::Json
    );
    assert_eq!(
        parse(&["--log-jsonl", "--log-format", "text"])
            .log
            .settings()
            .format,
        LogFormat::Text
    );
    assert!(try_parse(&["--log-format", "xml"]).is_err());
    assert_eq!(
        parse(&["--log-colors", "on"]).log.settings().colors,
        Colors::On
    );
    let file = parse(&["--log-file", "x.log"]).log.settings().file;
    assert_eq!(file.as_deref(), Some(std::path::Path::new("x.log")));
}

#[test]
fn log_environment_variables_are_llama_cpps() {
    let env = [
        ("LLAMA_ARG_LOG_VERBOSITY", "4"),
        ("LLAMA_ARG_LOG_PREFIX", "0"),
        ("LLAMA_ARG_LOG_TIMESTAMPS", "false"),
        ("LLAMA_ARG_LOG_JSONL", "1"),
        ("LLAMA_ARG_LOG_COLORS", "off"),
    ];
    let s = parse_with_env(&env, &[]).expect("parses").log.settings();
    assert_eq!(s.level, Some(llama_otel::logs::Level::DEBUG));
    assert!(!s.prefix && !s.timestamps);
    assert_eq!(s.format, llama_otel::logs::LogFormat::Json);
    assert_eq!(s.colors, llama_otel::logs::Colors::Off);
}

#[test]
fn reasoning_flag_follows_llama_cpp() {
    assert_eq!(parse(&[]).reasoning, Reasoning::Auto);
    assert_eq!(parse(&["-rea", "off"]).reasoning, Reasoning::Off);
    assert_eq!(parse(&["--reasoning", "on"]).reasoning, Reasoning::On);
    assert_eq!(parse(&["--reasoning=-1"]).reasoning, Reasoning::Auto);
    assert!(try_parse(&["--reasoning", "maybe"]).is_err());
    let env = parse_with_env(&[("LLAMA_ARG_REASONING", "disabled")], &[]).expect("parses");
    assert_eq!(env.reasoning, Reasoning::Off);
    // --reasoning-format is served, not refused as unsupported.
    assert!(try_parse(&["--reasoning-format", "none"]).is_ok());
}

#[test]
fn speculative_flags_serve_ngram_simple_and_refuse_draft_models() {
    assert_eq!(parse(&[]).spec.config(), None);
    let cli = parse(&["--spec-type", "ngram-simple"]);
    let cfg = cli.spec.config().expect("ngram-simple on");
    assert_eq!((cfg.size_n, cfg.size_m), (12, 48));
    let cli = parse(&[
        "--spec-type=ngram-simple",
        "--spec-ngram-simple-size-n",
        "4",
        "--spec-ngram-simple-size-m",
        "16",
        "--spec-ngram-simple-min-hits",
        "2",
    ]);
    let cfg = cli.spec.config().expect("ngram-simple on");
    assert_eq!((cfg.size_n, cfg.size_m), (4, 16));
    // As llama.cpp: `none` in the list turns speculation off.
    assert_eq!(
        parse(&["--spec-type", "ngram-simple,none"]).spec.config(),
        None
    );
    let env = parse_with_env(&[("LLAMA_ARG_SPEC_TYPE", "ngram-simple")], &[]).expect("env");
    assert!(env.spec.config().is_some());
    for (value, says) in [
        ("draft-simple", "needs a draft model"),
        ("draft-mtp", "needs a draft model"),
        ("ngram-mod", "not supported by this server"),
        ("bogus", "unknown speculative type: bogus"),
    ] {
        let err = try_parse(&["--spec-type", value])
            .expect_err(value)
            .to_string();
        assert!(err.contains(says), "{value}: {err}");
    }
    assert!(try_parse(&["--spec-ngram-simple-size-n", "0"]).is_err());
    for flag in [
        "-md",
        "--spec-draft-model",
        "--spec-draft-n-max",
        "--draft-max",
        "-td",
    ] {
        let err = try_parse(&[flag, "3"]).expect_err(flag).to_string();
        assert!(
            err.contains("llama.cpp flag this server does not support"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn split_flags_are_llama_cpp_s() {
    use llama_core::model::{SplitMode, TensorSplit};
    let cli = parse(&["-sm", "none", "-ts", "3,1", "-mg", "1", "--rpc", "h:1,h:2"]);
    assert_eq!(cli.split_mode, SplitMode::None);
    assert_eq!(cli.tensor_split, Some(TensorSplit(vec![3.0, 1.0])));
    assert_eq!((cli.main_gpu, cli.rpc.as_deref()), (1, Some("h:1,h:2")));
    let defaults = parse(&[]);
    assert_eq!(
        (defaults.split_mode, defaults.main_gpu),
        (SplitMode::Layer, 0)
    );
    assert_eq!(
        parse(&["--tensor-split", "1/1/2"]).tensor_split,
        Some(TensorSplit(vec![1.0, 1.0, 2.0]))
    );
    assert_eq!(parse(&["-mg", "-1"]).main_gpu, -1);
    assert!(try_parse(&["-sm", "rows"]).is_err());
    assert!(try_parse(&["-ts", "1,-1"]).is_err());
}

#[test]
fn cache_types_parse_like_llama_cpp() {
    use llama_core::kv_cache::KvCacheType;
    let cli = parse(&[]);
    assert_eq!(
        (cli.cache_type_k, cli.cache_type_v),
        (KvCacheType::F16, KvCacheType::F16)
    );
    let cli = parse(&["-ctk", "q8_0", "-ctv", "q4_0"]);
    assert_eq!(
        (cli.cache_type_k, cli.cache_type_v),
        (KvCacheType::Q8_0, KvCacheType::Q4_0)
    );
    let cli = parse(&["--cache-type-k", "bf16", "--cache-type-v=iq4_nl"]);
    assert_eq!(
        (cli.cache_type_k, cli.cache_type_v),
        (KvCacheType::BF16, KvCacheType::Iq4Nl)
    );
    let env = [
        ("LLAMA_ARG_CACHE_TYPE_K", "q5_1"),
        ("LLAMA_ARG_CACHE_TYPE_V", "f32"),
    ];
    let cli = parse_with_env(&env, &[]).expect("env parses");
    assert_eq!(
        (cli.cache_type_k, cli.cache_type_v),
        (KvCacheType::Q5_1, KvCacheType::F32)
    );
    // The command line wins over the environment, as in llama.cpp.
    let cli = parse_with_env(&env, &["-ctk", "q4_1"]).expect("parses");
    assert_eq!(cli.cache_type_k, KvCacheType::Q4_1);
    for bad in ["q4_k", "Q8_0", "fp16"] {
        let err = try_parse(&["-ctk", bad]).expect_err(bad).to_string();
        assert!(
            err.contains(&format!("Unsupported cache type: {bad}"))
                && err.contains(
                    "allowed values: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1"
                ),
            "{err}"
        );
    }
    let err = parse_with_env(&[("LLAMA_ARG_CACHE_TYPE_V", "q2_k")], &[])
        .expect_err("bad env")
        .to_string();
    assert!(err.contains("Unsupported cache type: q2_k"), "{err}");
}
