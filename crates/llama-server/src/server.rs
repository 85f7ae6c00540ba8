//! Process lifecycle: telemetry as the flags say, bind first, load the model on a background
//! thread (so `/health` answers 503 meanwhile), serve HTTP/1.1 with hyper, and on Ctrl-C /
//! SIGTERM stop accepting, let in-flight requests finish until `--shutdown-timeout`, cancel the
//! rest, and exit 0.

use crate::cli::Cli;
use crate::http::cors::CorsConfig;
use crate::http::{self, AppState, HttpConfig, ModelNames, Ready};
use crate::scheduler::engine::EngineConfig;
use crate::scheduler::{self, Limits, SchedulerHandle};
use crate::telemetry::ServerAddr;
use crate::write_timeout::WriteTimeout;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use llama_core::chat::ChatTemplate;
use llama_core::{Context, ContextParams, Encoder, EncoderParams, Model, ModelParams};
use llama_otel::{TelemetryConfig, TelemetryGuard};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// Runs the server until a shutdown signal; the error is for the exit message.
pub async fn serve(cli: Cli) -> Result<(), String> {
    let tls = match (&cli.ssl_cert_file, &cli.ssl_key_file) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind((cli.host.as_str(), cli.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", cli.host, cli.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("llama-server listening on {scheme}://{addr}");
    let state = AppState::new(http_config(&cli, addr.port(), scheme)?);
    crate::metrics_listener::spawn(state.clone()).await;
    let (failed_tx, failed_rx) = oneshot::channel();
    let (handle_tx, handle_rx) = oneshot::channel();
    spawn_loader(cli.clone(), state.clone(), addr, failed_tx, handle_tx)?;
    let app = http::router(state);
    let shutdown = async {
        tokio::select! {
            () = shutdown_signal() => Ok(()),
            Ok(msg) = failed_rx => Err(msg),
        }
    };
    let result = accept_loop(listener, tls, app, shutdown, &cli, handle_rx).await;
    tracing::info!("llama-server stopped");
    result
}

fn http_config(cli: &Cli, port: u16, scheme: &'static str) -> Result<HttpConfig, String> {
    Ok(HttpConfig {
        api_keys: cli.api_keys()?,
        aliases: cli.aliases(),
        model_path: cli.model.clone(),
        max_body: cli.max_body_size,
        body_timeout: Duration::from_secs(cli.timeout),
        server: ServerAddr {
            address: Arc::from(cli.host.as_str()),
            port,
            scheme,
        },
        trace_probes: cli.otel_trace_probes,
        capture_content: capture_content(cli),
        embeddings: cli.embeddings,
        sampling: cli.sampling_defaults()?,
        slots_endpoint: cli.slots_enabled(),
        props_endpoint: cli.endpoints.props,
        metrics_flag: cli.endpoints.metrics,
        n_batch: cli.batch_size as usize,
        sse_ping: (cli.sse_ping_interval > 0.0 && cli.sse_ping_interval.is_finite())
            .then(|| Duration::from_secs_f64(cli.sse_ping_interval)),
        cors: CorsConfig {
            origins: cli.cors.origins.clone(),
            methods: cli.cors.methods.clone(),
            headers: cli.cors.headers.clone(),
            credentials: cli.cors.credentials(),
        },
        reasoning_format: cli.reasoning_format,
        webui: cli.webui_enabled(),
        verbose: cli.log.verbose,
        slot_save_path: cli.endpoints.slot_save_path.clone(),
    })
}

/// Installs the log subscriber as the `-v`/`-lv`/`--log-*` flags say (before telemetry, whose
/// warnings it shows). A `--log-file` that cannot be opened is reported and left out.
pub fn start_logging(cli: &Cli) {
    let settings = cli.log.settings();
    if let Err(e) = llama_otel::logs::init(settings.clone()) {
        let _ = llama_otel::logs::init(llama_otel::logs::LogSettings {
            file: None,
            ..settings
        });
        tracing::error!("{e}; logging to the console only");
    }
}

/// Starts the SDK as the flags (over the `OTEL_*` environment) say.
pub fn start_telemetry(cli: &Cli, model_name: &str) -> Result<TelemetryGuard, String> {
    let protocol = match cli.otlp_protocol.as_deref() {
        Some(p) => {
            Some(llama_otel::Protocol::parse("--otlp-protocol", p).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let config = TelemetryConfig {
        service_name: cli.otel_service_name.clone(),
        service_version: Some(env!("CARGO_PKG_VERSION").into()),
        resource_attributes: vec![("llama.model.name".into(), model_name.into())],
        endpoint: cli.otlp_endpoint.clone(),
        protocol,
        prometheus: !cli.no_prometheus,
        ..TelemetryConfig::default()
    };
    llama_otel::init(config).map_err(|e| e.to_string())
}

/// `--otel-capture-content` or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
pub fn capture_content(cli: &Cli) -> bool {
    let env =
        std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").unwrap_or_default();
    cli.otel_capture_content || env.eq_ignore_ascii_case("true")
}

/// `--otel-ggml-ops`, honoured only while telemetry records (the timing costs throughput).
pub fn ggml_op_timing(cli: &Cli) -> bool {
    if cli.otel_ggml_ops && !llama_otel::is_active() {
        tracing::warn!("--otel-ggml-ops ignored: telemetry is off (build without `otel`, or OTEL_SDK_DISABLED)");
    }
    cli.otel_ggml_ops && llama_otel::is_active()
}

/// Loads the model and starts the scheduler off the async runtime.
fn spawn_loader(
    cli: Cli,
    state: AppState,
    addr: SocketAddr,
    failed: oneshot::Sender<String>,
    handle_tx: oneshot::Sender<SchedulerHandle>,
) -> Result<(), String> {
    let spawn = std::thread::Builder::new()
        .name("loader".into())
        // A panic while loading must end the server like a load error does, not leave it
        // listening and answering 503 for ever.
        .spawn(move || match load_catching_panics(&cli) {
            Ok(ready) => {
                let _ = handle_tx.send(ready.sched.clone());
                let limits = ready.sched.limits;
                tracing::info!(
                    "model loaded: {} (slots: {}, context: {}, per slot: {})",
                    ready.names.id,
                    limits.n_parallel,
                    limits.n_ctx,
                    limits.n_ctx_slot
                );
                print_curl(&cli, addr, &ready.names.id, ready.pooling.is_some());
                state.set_ready(ready);
            }
            Err(e) => {
                let _ = failed.send(e);
            }
        });
    spawn
        .map(|_| ())
        .map_err(|e| format!("cannot start the loader thread: {e}"))
}

/// [`load`], with a panic turned into the load error it stands for.
fn load_catching_panics(cli: &Cli) -> Result<Ready, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(cli))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(format!("model load panicked: {msg}"))
    })
}

/// The routes over a model loaded now, without a listener: the server's request path
/// in-process (tests, embedding). `port` is what telemetry reports as `server.port`. The
/// scheduler thread exits once the router and every clone of its state are dropped.
pub fn in_process(cli: &Cli, port: u16) -> Result<axum::Router, String> {
    in_process_with_scheduler(cli, port).map(|(router, _)| router)
}

/// [`in_process`], with the scheduler's handle (to stop it as a shutdown would).
pub fn in_process_with_scheduler(
    cli: &Cli,
    port: u16,
) -> Result<(axum::Router, SchedulerHandle), String> {
    let scheme = if cli.ssl_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    let state = AppState::new(http_config(cli, port, scheme)?);
    let ready = load(cli)?;
    let sched = ready.sched.clone();
    state.set_ready(ready);
    Ok((http::router(state), sched))
}

/// Loads the model and starts the scheduler (blocking).
pub fn load(cli: &Cli) -> Result<Ready, String> {
    let started = Instant::now();
    tracing::info!("loading model {}", cli.model.display());
    if let Some(servers) = &cli.rpc {
        llama_core::devices::connect_rpc(servers).map_err(|e| e.to_string())?;
    }
    let params = ModelParams {
        n_gpu_layers: cli.n_gpu_layers,
        no_repack: !cli.repack_enabled(),
        split_mode: cli.split_mode,
        tensor_split: cli.tensor_split.clone().map(|t| t.0).unwrap_or_default(),
        main_gpu: cli.main_gpu,
    };
    let model = Model::load(&cli.model, &params, &mut |_, _| {})
        .map_err(|e| format!("cannot load {}: {e}", cli.model.display()))?;
    let model = Arc::new(model);
    if model.is_encoder() {
        return load_encoder(cli, model, started);
    }
    // llguidance's token trie for constrained requests, built beside the context (seconds on a
    // 150k vocabulary in a debug build) so that no request builds it on a runtime worker.
    let trie = {
        let model = model.clone();
        std::thread::Builder::new()
            .name("constraint-env".into())
            .spawn(move || {
                let t0 = Instant::now();
                model.constraint_env().map(|_| t0.elapsed())
            })
            .map_err(|e| format!("cannot start the constraint-env thread: {e}"))?
    };
    let (n_ctx, n_ctx_slot) = cli.context_sizes(model.hparams().n_ctx_train);
    let ctx_params = ContextParams {
        n_ctx,
        n_ubatch: cli.ubatch_size as usize,
        n_threads: threads(cli),
        flash_attn: cli.flash_attn_enabled(),
        n_seq_max: cli.n_parallel(),
        swa_full: cli.swa_full,
        type_k: cli.cache_type_k,
        type_v: cli.cache_type_v,
    };
    let mut ctx = Context::new(model.clone(), ctx_params)
        .map_err(|e| format!("cannot create the context: {e}"))?;
    ctx.set_op_timing(ggml_op_timing(cli));
    let memory = Arc::new(ctx.memory());
    crate::memory::register(memory.clone());
    let limits = Limits {
        n_ctx,
        n_ctx_slot,
        n_parallel: cli.n_parallel(),
        n_predict: usize::try_from(cli.n_predict).ok(),
    };
    let engine = EngineConfig {
        n_batch: cli.batch_size as usize,
        capture_content: capture_content(cli),
        mixed_batches: cli.mixed_batches,
        speculative: cli.spec.config(),
        n_stream: if cli.kv_unified() {
            1
        } else {
            cli.n_parallel() as u32
        },
        sleep_idle: cli.sleep_idle(),
        op_timing: ggml_op_timing(cli),
        cache_ram_mib: cli.cache_ram,
        cache_any_prefix: cli.cache_any_prefix,
    };
    let (sched, _thread) = scheduler::start(ctx, engine, limits, cli.queue_size)
        .map_err(|e| format!("cannot start the scheduler: {e}"))?;
    let names = ModelNames::new(&cli.aliases(), &cli.model);
    match trie.join() {
        Ok(Ok(took)) => {
            tracing::info!("constraint token trie built in {:.2} s", took.as_secs_f64())
        }
        // Requests with a schema or grammar will report it.
        Ok(Err(e)) => tracing::warn!("no constrained sampling: {e}"),
        Err(_) => tracing::warn!("no constrained sampling: the constraint-env thread panicked"),
    }
    tracing::info!("model ready in {:.2} s", started.elapsed().as_secs_f64());
    let chat_template = chat_template_override(cli, &model)?;
    Ok(Ready {
        chat_template,
        chat_kwargs: chat_kwargs(cli),
        prefill_assistant: !cli.no_prefill_assistant && cli.prefill_assistant.unwrap_or(true),
        model,
        sched,
        names,
        pooling: None,
        created: http::unix_now(),
        memory,
    })
}

fn threads(cli: &Cli) -> usize {
    cli.n_threads()
        .unwrap_or_else(llama_core::context::default_threads)
}

/// An encoder-only model: the scheduler thread owns an [`Encoder`] and serves embeddings only.
fn load_encoder(cli: &Cli, model: Arc<Model>, started: Instant) -> Result<Ready, String> {
    let params = EncoderParams {
        n_batch: cli.batch_size as usize,
        n_threads: threads(cli),
        pooling: cli.pooling,
        normalize: cli.embd_normalize,
        // By default each input runs alone, so its vector never depends on what it is sent with.
        pack_inputs: cli.mixed_batches,
    };
    let encoder = Encoder::new(model.clone(), params)
        .map_err(|e| format!("cannot create the encoder: {e}"))?;
    let pooling = encoder.pooling();
    let memory = Arc::new(encoder.memory());
    crate::memory::register(memory.clone());
    let max = encoder.max_input_tokens();
    let limits = Limits {
        n_ctx: max,
        n_ctx_slot: max,
        n_parallel: 1,
        n_predict: None,
    };
    let (sched, _thread) = scheduler::start_embedder(encoder, limits, cli.queue_size)
        .map_err(|e| format!("cannot start the scheduler: {e}"))?;
    let names = ModelNames::new(&cli.aliases(), &cli.model);
    tracing::info!(
        "embedding model ready in {:.2} s (pooling {})",
        started.elapsed().as_secs_f64(),
        pooling.name()
    );
    Ok(Ready {
        chat_template: None,
        chat_kwargs: serde_json::Map::new(),
        prefill_assistant: false,
        model,
        sched,
        names,
        pooling: Some(pooling),
        created: http::unix_now(),
        memory,
    })
}

/// `--chat-template NAME|JINJA` or `--chat-template-file PATH`, with the model's BOS/EOS texts.
fn chat_template_override(cli: &Cli, model: &Model) -> Result<Option<ChatTemplate>, String> {
    let vocab = model.vocab();
    let text = |id: Option<u32>| {
        id.and_then(|t| vocab.token_text(t))
            .unwrap_or("")
            .to_string()
    };
    let (bos, eos) = (text(vocab.bos()), text(vocab.eos()));
    let template = match (&cli.chat_template, &cli.chat_template_file) {
        (Some(value), _) => ChatTemplate::from_name_or_source(value, &bos, &eos),
        (None, Some(path)) => ChatTemplate::from_file(path, &bos, &eos),
        (None, None) => return Ok(None),
    };
    let template = template.map_err(|e| format!("invalid chat template: {e}"))?;
    Ok(Some(
        template
            .with_special_tokens(&bos, &eos)
            .with_add_special(vocab.add_bos(), vocab.add_eos()),
    ))
}

/// Template variables for every request: llama.cpp's default `preserve_reasoning: true`
/// (`--reasoning-preserve`), then `--chat-template-kwargs`, then `--reasoning on|off`
/// (`enable_thinking`) and `--reasoning-effort`.
fn chat_kwargs(cli: &Cli) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut kwargs = serde_json::Map::new();
    kwargs.insert("preserve_reasoning".into(), Value::Bool(true));
    if let Some(extra) = &cli.chat_template_kwargs {
        kwargs.extend(extra.clone());
    }
    match cli.reasoning {
        crate::cli::Reasoning::On => kwargs.insert("enable_thinking".into(), Value::Bool(true)),
        crate::cli::Reasoning::Off => kwargs.insert("enable_thinking".into(), Value::Bool(false)),
        crate::cli::Reasoning::Auto => None,
    };
    match cli.reasoning_effort.as_deref() {
        None => {}
        Some("default") => {
            kwargs.remove("reasoning_effort");
        }
        Some(level) => {
            kwargs.insert("reasoning_effort".into(), Value::from(level));
        }
    }
    kwargs
}

/// The ready-to-paste request for the startup banner (the API key itself is never printed).
fn print_curl(cli: &Cli, addr: SocketAddr, model: &str, embeddings: bool) {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let auth = if cli.api_key.is_empty() {
        String::new()
    } else {
        " \\\n  -H \"Authorization: Bearer $LLAMA_API_KEY\"".into()
    };
    let (route, body) = if embeddings {
        let body = serde_json::json!({"model": model, "input": "Hello!"});
        ("embeddings", body)
    } else {
        let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello!"}]});
        ("chat/completions", body)
    };
    tracing::info!("try it:\ncurl http://{host}:{}/v1/{route} \\\n  -H \"Content-Type: application/json\"{auth} \\\n  -d '{body}'", addr.port());
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Accepts connections (TLS ones after their handshake) until `shutdown`, then drains them
/// within the deadline. `--timeout` bounds reading a request's head and any blocked write.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = Result<(), String>>,
    cli: &Cli,
    mut handle_rx: oneshot::Receiver<SchedulerHandle>,
) -> Result<(), String> {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    let timeout = Duration::from_secs(cli.timeout.max(1));
    // Title-case header names on the wire (`Access-Control-Allow-Origin`), as llama.cpp's
    // cpp-httplib writes them: HTTP says names are case-insensitive, but clients and llama.cpp's
    // own test-suite compare them as written.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .title_case_headers(true);
    tokio::pin!(shutdown);
    let outcome = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let stream = WriteTimeout::new(stream, timeout);
                let service = TowerToHyperService::new(app.clone());
                let (builder, watcher) = (builder.clone(), graceful.watcher());
                match tls.clone() {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        tokio::spawn(watcher.watch(conn));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // A handshake that stalls is dropped after the read timeout.
                            let handshake = tokio::time::timeout(timeout, acceptor.accept(stream));
                            if let Ok(Ok(tls)) = handshake.await {
                                let conn = builder.serve_connection(TokioIo::new(tls), service);
                                let _ = watcher.watch(conn).await;
                            }
                        });
                    }
                }
            }
            result = &mut shutdown => break result,
        }
    };
    drop(listener);
    let handle = handle_rx.try_recv().ok();
    drain(graceful, handle, Duration::from_secs(cli.shutdown_timeout)).await;
    outcome
}

/// Lets in-flight requests finish, cancelling what is left at the deadline.
async fn drain(graceful: GracefulShutdown, sched: Option<SchedulerHandle>, deadline: Duration) {
    tracing::info!(
        "shutting down: waiting up to {} s for in-flight requests",
        deadline.as_secs()
    );
    if let Some(s) = &sched {
        s.shutdown();
    }
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    if tokio::time::timeout(deadline, &mut drained).await.is_err() {
        tracing::warn!("shutdown deadline passed: cancelling remaining requests");
        if let Some(s) = &sched {
            s.cancel_all();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), drained).await;
    }
}
