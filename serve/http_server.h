// The HTTP/1.1 layer: Boost.Beast over Asio (header-only), one thread per connection with blocking
// reads and writes, keep-alive, a body limit (413), an idle timeout, one log line per request on
// stderr, and Server-Sent Events as a chunked response. What a request means is the handler's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace alpha::serve {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (see HttpServer::port)
  size_t body_limit = 1 << 20;  // larger request bodies get 413
  int max_connections = 64;     // more at once get 503
  int idle_timeout_s = 60;      // a connection silent this long while a request is read is closed
  int write_timeout_s = 60;     // a client that takes no bytes for this long is dropped
  // The JSON body of the errors the server answers by itself (413, 400 for broken HTTP, 503, 500).
  std::function<std::string(int status, std::string_view message)> error_body;
};

struct HttpRequest {
  std::string method, target, body;
  std::string authorization;  // the Authorization header, if any
};

// One request's answer: either respond() once, or start_events() and then send_event() any number
// of times. The server finishes the response (the stream's last chunk) after the handler returns.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;
  virtual void respond(int status, std::string_view content_type, std::string body) = 0;
  // text/event-stream; false when the client has gone.
  virtual bool start_events() = 0;
  // One event, "data: DATA\n\n"; false when the client has gone.
  virtual bool send_event(std::string_view data) = 0;
  // Whether the client closed its end (checked without blocking).
  virtual bool client_gone() = 0;
};

using HttpHandler = std::function<void(HttpExchange&)>;

class HttpServer {
 public:
  // Binds host:port now (a clear error when it cannot); serving starts with run().
  HttpServer(const HttpServerOptions& options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;  // the bound port
  // Accepts connections until stop(), then waits for the connections' threads to end.
  void run();
  // Stops accepting and ends idle connections; requests in flight finish their answers. Any thread.
  void stop();
  bool stopping() const { return stopping_; }

 private:
  struct Impl;
  void serve_connection(int fd, bool too_many);

  HttpServerOptions options_;
  HttpHandler handler_;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_ = false;
  std::mutex mutex_;
  std::condition_variable connections_done_;
  std::set<int> connections_;  // their sockets, to shut their reading side down on stop()
};

}  // namespace alpha::serve
