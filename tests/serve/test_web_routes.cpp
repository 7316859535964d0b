// The web side of `alpha serve` without a server: answer_web_request over a fake runs directory
// whose files have the trainer's formats (config.json, metrics.jsonl as the trainer dumps its rows,
// samples.txt blocks, checkpoints/step-N.ckpt): run states, the since=N protocol, half-written and
// corrupt metrics lines, path traversal, unknown runs, and the embedded pages.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "engine/train/run_state.h"
#include "serve/web_routes.h"

namespace fs = std::filesystem;
using alpha::serve::answer_web_request;
using nlohmann::json;

namespace {

void write(const fs::path& path, const std::string& text,
           std::ios::openmode mode = std::ios::trunc) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::out | mode) << text;
}

// A metrics.jsonl line as the trainer writes it (nlohmann's dump: keys sorted).
std::string metrics_line(int step, double loss, double val_loss = -1) {
  json row = {{"step", step}, {"loss", loss},          {"lr", 0.003 * step / 4}, {"grad_norm", 1.5},
              {"ms", 250.0},  {"tokens_per_s", 256.0}, {"memory_mb", 12.5},      {"mfu", 0.01}};
  if (val_loss >= 0) row["val_loss"] = val_loss;
  return row.dump() + "\n";
}

std::string config(int steps, int eval_every) {
  return json({{"model", "d1"},
               {"steps", steps},
               {"eval_every", eval_every},
               {"parameters", 23456},
               {"n_layer", 1},
               {"seq_len", 32},
               {"data", {"/tmp/corpus.txt"}}})
      .dump(2);
}

// runs/: finished (4 of 4 steps, validated at 2 and 4, samples, a checkpoint), stopped (3 of 10 and
// a half-written 4th line, a corrupt line between), training (2 of 10; a test holds its lock),
// imported, and a folder with no config.json. Beside runs/: outside/, a run the API must never
// reach.
struct RunsDir {
  fs::path root = fs::temp_directory_path() / ("alpha-web-test-" + std::to_string(getpid()));
  fs::path runs = root / "runs";

  RunsDir() {
    fs::remove_all(root);
    write(runs / "finished/config.json", config(4, 2));
    write(runs / "finished/metrics.jsonl", metrics_line(1, 5.5) + metrics_line(2, 5.0, 5.2) +
                                               metrics_line(3, 4.5) + metrics_line(4, 4.0, 4.25));
    write(runs / "finished/samples.txt",
          "--- step 2\nthe quick brown\nfox\n--- step 4\nthe lazy <img src=x onerror=alert(1)> "
          "\xe2\x80\n");
    write(runs / "finished/checkpoints/step-00000004.ckpt", "");
    write(runs / "finished/checkpoints/best.ckpt", "");
    write(runs / "stopped/config.json", config(10, 0));
    write(runs / "stopped/metrics.jsonl", metrics_line(1, 6.0) + "{\"step\": 2, \"loss\": 5.\n" +
                                              metrics_line(3, 5.0) +
                                              R"({"grad_norm":1.5,"loss":4.)");
    write(runs / "training/config.json", config(10, 5));
    write(runs / "training/metrics.jsonl", metrics_line(1, 6.0) + metrics_line(2, 5.5));
    write(runs / "imported/config.json",
          json({{"model", "gpt2"}, {"imported", {{"from", "hf"}}}}).dump());
    write(runs / "no-config/metrics.jsonl", metrics_line(1, 1.0));
    write(root / "outside/config.json", config(1, 0));
    write(root / "outside/metrics.jsonl", metrics_line(1, 42.0));
  }
  ~RunsDir() { fs::remove_all(root); }
};

json get_json(const std::string& target, const fs::path& runs, int status = 200) {
  const auto response = answer_web_request(target, runs);
  REQUIRE(response);
  CHECK(response->status == status);
  CHECK(response->content_type == "application/json");
  return json::parse(response->body);
}

json run_of(const json& list, const std::string& name) {
  for (const auto& run : list["runs"])
    if (run["name"] == name) return run;
  FAIL("no run " << name << " in /api/runs");
  return nullptr;
}

}  // namespace

TEST_CASE("the pages are embedded, whole and self-contained") {
  RunsDir dir;
  for (const auto& [target, title] : {std::pair{"/", "<title>alpha chat</title>"},
                                      {"/?utm=x", "<title>alpha chat</title>"},
                                      {"/runs", "<title>alpha runs</title>"},
                                      {"/runs/", "<title>alpha runs</title>"},
                                      {"/runs/finished", "<title>alpha run</title>"}}) {
    CAPTURE(target);
    const auto page = answer_web_request(target, dir.runs);
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->content_type == "text/html; charset=utf-8");
    CHECK(page->body.find(title) != std::string::npos);
    CHECK(page->body.ends_with("</html>\n"));
    CHECK(page->body.find("@include") == std::string::npos);  // common.css and common.js inlined
    CHECK(page->body.find("function el(") != std::string::npos);
    CHECK(page->body.find("http://") == page->body.find("http://www.w3.org/2000/svg"));  // no CDN
    CHECK(page->body.find("innerHTML") == std::string::npos);
  }
}

TEST_CASE("targets that are not the web pages' are left to the server") {
  RunsDir dir;
  for (const char* target : {"/v1/models", "/v1/chat/completions", "/health", "/favicon.ico",
                             "/runsx", "/api/runsx", "/api", "/index.html", "", "runs"}) {
    CAPTURE(target);
    CHECK_FALSE(answer_web_request(target, dir.runs));
  }
}

TEST_CASE("/api/runs: each run's state, progress, losses, speed and ETA") {
  RunsDir dir;
  alpha::train::TrainingLock lock(dir.runs / "training");
  const auto list = get_json("/api/runs", dir.runs);
  CHECK(list["runs"].size() == 4);  // no-config/ is not a run; outside/ is not under runs/

  const auto finished = run_of(list, "finished");
  CHECK(finished["state"] == "finished");
  CHECK(finished["step"] == 4);
  CHECK(finished["steps"] == 4);
  CHECK(finished["loss"] == 4.0);
  CHECK(finished["val_loss"] == 4.25);
  CHECK(finished["tokens_per_s"] == 256.0);
  CHECK(finished["eta_s"].is_null());
  CHECK(finished["model"] == "d1");
  CHECK(finished["parameters"] == 23456);
  CHECK(finished["updated"].get<int64_t>() > 1600000000);

  const auto stopped = run_of(list, "stopped");
  CHECK(stopped["state"] == "stopped");
  CHECK(stopped["step"] == 3);  // the half-written 4th line is not yet a step
  CHECK(stopped["loss"] == 5.0);
  CHECK(stopped["val_loss"].is_null());
  CHECK(stopped["eta_s"].is_null());

  const auto training = run_of(list, "training");
  CHECK(training["state"] == "training");
  CHECK(training["step"] == 2);
  CHECK(training["eta_s"] == doctest::Approx(8 * 0.25));  // 8 steps left at 250 ms each
  CHECK(training["val_loss"].is_null());

  CHECK(run_of(list, "imported")["state"] == "imported");
}

TEST_CASE("a run's state follows its trainer's lock, which one trainer holds at a time") {
  RunsDir dir;
  const auto state = [&] { return run_of(get_json("/api/runs", dir.runs), "stopped")["state"]; };
  CHECK(state() == "stopped");
  {
    alpha::train::TrainingLock lock(dir.runs / "stopped");
    CHECK(state() == "training");
    CHECK(alpha::train::run_is_training(dir.runs / "stopped"));
    CHECK_THROWS_AS(alpha::train::TrainingLock(dir.runs / "stopped"), alpha::Error);
  }
  CHECK(state() == "stopped");  // released when the trainer ends, however it ends
  CHECK_FALSE(alpha::train::run_is_training(dir.runs / "no-such-run"));
}

TEST_CASE("/api/runs/NAME: metrics rows from line since on, samples, checkpoints, config") {
  RunsDir dir;
  const auto run = get_json("/api/runs/finished", dir.runs);
  CHECK(run["name"] == "finished");
  CHECK(run["state"] == "finished");
  CHECK(run["config"]["steps"] == 4);
  CHECK(run["checkpoints"] == json::array({4}));
  CHECK(run["metrics"]["from"] == 0);
  CHECK(run["metrics"]["next"] == 4);
  REQUIRE(run["metrics"]["rows"].size() == 4);
  CHECK(run["metrics"]["rows"][1]["val_loss"] == 5.2);
  REQUIRE(run["samples"].size() == 2);
  CHECK(run["samples"][0]["step"] == 4);  // newest first
  CHECK(run["samples"][1]["step"] == 2);
  CHECK(run["samples"][1]["text"] == "the quick brown\nfox");
  // a token's half of a UTF-8 character comes out as U+FFFD; markup stays text for the page to show
  CHECK(run["samples"][0]["text"] == "the lazy <img src=x onerror=alert(1)> \xef\xbf\xbd");

  const auto tail = get_json("/api/runs/finished?since=2", dir.runs)["metrics"];
  CHECK(tail["from"] == 2);
  CHECK(tail["next"] == 4);
  REQUIRE(tail["rows"].size() == 2);
  CHECK(tail["rows"][0]["step"] == 3);
  CHECK(get_json("/api/runs/finished?x=1&since=4", dir.runs)["metrics"]["rows"].empty());
  // past the end (metrics.jsonl was rewritten shorter by a resume): everything again, from 0
  const auto rewritten = get_json("/api/runs/finished?since=9", dir.runs)["metrics"];
  CHECK(rewritten["from"] == 0);
  CHECK(rewritten["rows"].size() == 4);

  for (const char* bad :
       {"?since=abc", "?since=-1", "?since=", "?since=1x", "?since=99999999999999999999"}) {
    CAPTURE(bad);
    const auto error = get_json(std::string("/api/runs/finished") + bad, dir.runs, 400);
    CHECK(error["error"]["message"].get<std::string>().find("since") != std::string::npos);
  }
}

TEST_CASE("a half-written last metrics line waits for its newline; corrupt lines are skipped") {
  RunsDir dir;
  auto metrics = get_json("/api/runs/stopped", dir.runs)["metrics"];
  CHECK(metrics["next"] == 3);  // lines 0..2 are complete; the corrupt line 1 is counted, not shown
  REQUIRE(metrics["rows"].size() == 2);
  CHECK(metrics["rows"][0]["step"] == 1);
  CHECK(metrics["rows"][1]["step"] == 3);

  write(dir.runs / "stopped/metrics.jsonl", "0,\"step\":4}\n",
        std::ios::app);  // the trainer finishes the line
  metrics = get_json("/api/runs/stopped?since=3", dir.runs)["metrics"];
  CHECK(metrics["from"] == 3);
  CHECK(metrics["next"] == 4);
  REQUIRE(metrics["rows"].size() == 1);
  CHECK(metrics["rows"][0]["step"] == 4);
  CHECK(metrics["rows"][0]["loss"] == 4.0);
}

TEST_CASE(
    "run names: traversal is refused, unknown runs are 404, nothing outside runs_dir is read") {
  RunsDir dir;
  for (const std::string prefix : {"/runs/", "/api/runs/"}) {
    for (const char* name :
         {"..", "%2e%2e", "%2E%2E", ".", "../outside", "..%2Foutside", "..%2foutside",
          "%2e%2e%2foutside", "../../etc/passwd", "a/b", "finished/", "finished%2F..",
          "..%5Coutside", "%00", "finished%00", "%zz", "%2", "%"}) {
      CAPTURE(prefix + name);
      const auto response = answer_web_request(prefix + name, dir.runs);
      REQUIRE(response);
      CHECK(response->status == 400);
      CHECK(response->body.find("42") == std::string::npos);  // outside/'s loss
    }
    for (const char* name : {"nope", "outside", "no-config", "runs", "finished%20"}) {
      CAPTURE(prefix + name);
      const auto response = answer_web_request(prefix + name, dir.runs);
      REQUIRE(response);
      CHECK(response->status == 404);
      CHECK(response->body.find("42") == std::string::npos);
    }
  }
  const auto error = get_json("/api/runs/nope", dir.runs, 404);
  CHECK(error["error"]["message"] == "no run called nope in the runs directory");
  // the HTML error page shows a name as text
  const auto page = answer_web_request("/runs/%3Cscript%3Ex%3C%2Fscript%3E", dir.runs);
  REQUIRE(page);
  CHECK(page->status == 400);
  const auto unknown = answer_web_request("/runs/%3Cb%3E", dir.runs);
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(unknown->body.find("<b>") == std::string::npos);
  CHECK(unknown->body.find("&lt;b&gt;") != std::string::npos);
  // a percent-encoded name that is a run is found
  fs::rename(dir.runs / "finished", dir.runs / "my run");
  CHECK(get_json("/api/runs/my%20run", dir.runs)["name"] == "my run");
}

TEST_CASE("a missing or empty runs directory lists no runs") {
  RunsDir dir;
  CHECK(get_json("/api/runs", dir.root / "none")["runs"] == json::array());
  fs::create_directories(dir.root / "empty");
  CHECK(get_json("/api/runs", dir.root / "empty")["runs"] == json::array());
  CHECK(answer_web_request("/api/runs/finished", dir.root / "none")->status == 404);
}
