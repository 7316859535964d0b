// `alpha serve`: an OpenAI-compatible HTTP server for a trained run. The run's decoder holds
// --parallel sequences decoded together (serve/scheduler.h); SIGINT or SIGTERM stop it cleanly
// (streams in flight end with an error event) and it exits 0.
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run_selection.h"
#include "common/error.h"
#include "engine/gpt/decoder.h"
#include "serve/http_server.h"
#include "serve/openai_api.h"
#include "serve/openai_routes.h"
#include "serve/scheduler.h"

namespace alpha::cli {

namespace {

struct ServeOptions {
  RunSelection selection;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;  // else ALPHA_API_KEY
  int parallel = 4;
  int queue = 32;
};

void serve(ServeOptions o) {
  if (o.parallel < 1 || o.parallel > 64) fail("--parallel must be 1..64, not {}", o.parallel);
  if (o.queue < 0) fail("--queue must not be negative, not {}", o.queue);
  if (o.api_key.empty())
    if (const char* key = std::getenv("ALPHA_API_KEY")) o.api_key = key;
  // SIGINT and SIGTERM are taken by a thread of ours (sigtimedwait): blocked here, before the
  // Vulkan driver and the server start threads, which inherit the mask
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto [run, checkpoint] = open_selected_run(o.selection);
  const tok::Tokenizer tokenizer = train::load_run_tokenizer(run);
  if (o.parallel > run.model.seq_len)
    fail("--parallel {} is more than the model's context of {} tokens allows", o.parallel,
         run.model.seq_len);
  vk::Context context(context_options());
  gpt::GptDecoder decoder(context, run.model, 64, 0, nullptr, o.parallel);
  decoder.set_parameters(checkpoint.params);
  serve::Scheduler scheduler(decoder, o.queue);

  serve::ServedModel model{run.dir.filename().string(), checkpoint.step, run.model.seq_len,
                           &tokenizer};
  serve::OpenAiRoutes routes(model, scheduler, o.api_key, o.selection.runs_dir);
  serve::HttpServerOptions http;
  http.host = o.host;
  http.port = o.port;
  http.error_body = [](int status, std::string_view message) {
    const char* type = status == 413 || status == 400 ? "invalid_request_error" : "server_error";
    return serve::dump(serve::error_json(serve::ApiError(
        status, type, std::string(message), {}, status == 413 ? "request_too_large" : "")));
  };
  serve::HttpServer server(http, [&](serve::HttpExchange& exchange) { routes.handle(exchange); });

  std::atomic<bool> done = false;
  std::thread stopper([&] {
    const timespec tick{0, 200'000'000};
    while (!done) {
      const int signal = sigtimedwait(&signals, nullptr, &tick);
      if (signal != SIGINT && signal != SIGTERM) continue;
      std::fprintf(stderr, "alpha serve: %s, shutting down\n",
                   signal == SIGINT ? "SIGINT" : "SIGTERM");
      scheduler.shutdown();  // generations end with an error, which their streams send
      server.stop();
      return;
    }
  });
  std::fprintf(stderr, "alpha serve: %s (step %d, context %d) on %s, %d slots, queue %d%s\n",
               model.name.c_str(), model.step, model.context, context.info().name.c_str(),
               o.parallel, o.queue, o.api_key.empty() ? "" : ", API key required");
  std::printf("listening on http://%s:%d\n", o.host.c_str(), server.port());
  std::fflush(stdout);
  server.run();
  done = true;
  stopper.join();
  std::fprintf(stderr, "alpha serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  static ServeOptions o;
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve a trained run over an OpenAI-compatible HTTP API (/v1/chat/completions, "
      "/v1/completions, "
      "/v1/models, /health), with the chat page at / and the runs dashboard at /runs");
  add_run_selection_options(*cmd, o.selection);
  cmd->add_option("--host", o.host, "Address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--port", o.port,
                  "Port to listen on (0: any free one; the line 'listening on ...' says which)")
      ->capture_default_str();
  cmd->add_option(
      "--api-key", o.api_key,
      "Require 'Authorization: Bearer KEY' on /v1 (default: ALPHA_API_KEY, else no key)");
  cmd->add_option("--parallel", o.parallel,
                  "Requests decoded together, each in its own KV-cache slot")
      ->capture_default_str();
  cmd->add_option("--queue", o.queue, "Requests that may wait for a slot; more get 503")
      ->capture_default_str();
  cmd->callback([] { serve(o); });
}

}  // namespace alpha::cli
