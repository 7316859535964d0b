// Beast/Asio HTTP server (see http_server.h). Each connection thread runs its own io_context: every
// read and write is an async operation with a deadline (beast::tcp_stream's timer) driven to
// completion on that thread, which gives blocking code with timeouts; Asio's plain blocking calls
// would wait forever on a client that stops reading or writing.
#include "serve/http_server.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "common/error.h"

namespace alpha::serve {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

struct HttpServer::Impl {
  net::io_context io;
  tcp::acceptor acceptor{io};
  tcp protocol = tcp::v4();
};

namespace {

std::string default_error_body(int, std::string_view message) {
  return fmt::format("{{\"error\":{{\"message\":\"{}\"}}}}", message);
}

// One connection: blocking-style reads and writes, each bounded by a deadline.
class Connection final : public HttpExchange {
 public:
  Connection(int fd, tcp protocol, const HttpServerOptions& options,
             const std::atomic<bool>& stopping)
      : fd_(fd), stream_(io_), options_(options), stopping_(stopping) {
    stream_.socket().assign(protocol, fd);
  }

  // Reads the next request; false at the end of the connection (closed, timed out, or answered an
  // unreadable request itself).
  bool read_request() {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    const auto ec = await(options_.idle_timeout_s,
                          [&](auto done) { http::async_read(stream_, buffer_, parser, done); });
    if (ec == http::error::body_limit) {
      request_ = {"POST", "(body over the limit)", "", ""};
      error(413, fmt::format("the request body is larger than the limit of {} bytes",
                             options_.body_limit));
      drain();
      return false;
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == boost::beast::error::timeout ||
        ec == net::error::connection_reset)
      return false;
    if (ec) {
      request_ = {"?", "(unreadable request)", "", ""};
      error(400, fmt::format("unreadable HTTP request: {}", ec.message()));
      return false;
    }
    auto message = parser.release();
    request_ = {std::string(message.method_string()), std::string(message.target()),
                std::move(message.body()), std::string(message[http::field::authorization])};
    version_ = message.version();
    keep_alive_ = message.keep_alive();
    status_ = 0, responded_ = streaming_ = false, bytes_ = 0;
    started_ = std::chrono::steady_clock::now();
    return true;
  }

  // Ends the answer the handler gave (or a 500 when it gave none) and logs it; false when the
  // connection cannot serve another request.
  bool finish() {
    if (!responded_) error(500, "the handler gave no answer");
    if (streaming_ && healthy_)
      healthy_ = !await(options_.write_timeout_s, [&](auto done) {
        net::async_write(stream_, http::make_chunk_last(), done);
      });
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    std::fprintf(stderr, "%s %s %d %zu bytes %.0f ms%s\n", request_.method.c_str(),
                 request_.target.c_str(), status_, bytes_, ms, healthy_ ? "" : " (client gone)");
    return healthy_ && keep_alive_ && !stopping_;
  }

  void error(int status, std::string_view message) {
    respond(status, "application/json",
            (options_.error_body ? options_.error_body : default_error_body)(status, message));
  }

  const HttpRequest& request() const override { return request_; }
  bool responded() const { return responded_; }

  void respond(int status, std::string_view content_type, std::string body) override {
    if (responded_) fail("an HTTP answer was already given");
    responded_ = true;
    status_ = status;
    bytes_ = body.size();
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "alpha");
    res.set(http::field::content_type, std::string(content_type));
    res.keep_alive(keep_alive_ && !stopping_);
    res.body() = std::move(body);
    res.prepare_payload();
    healthy_ =
        !await(options_.write_timeout_s, [&](auto done) { http::async_write(stream_, res, done); });
  }

  bool start_events() override {
    if (responded_) fail("an HTTP answer was already given");
    responded_ = streaming_ = true;
    status_ = 200;
    http::response<http::empty_body> res{http::status::ok, version_};
    res.set(http::field::server, "alpha");
    res.set(http::field::content_type, "text/event-stream; charset=utf-8");
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(keep_alive_);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    healthy_ = !await(options_.write_timeout_s,
                      [&](auto done) { http::async_write_header(stream_, serializer, done); });
    return healthy_;
  }

  bool send_event(std::string_view data) override {
    if (!streaming_) fail("send_event before start_events");
    if (!healthy_) return false;
    const std::string event = fmt::format("data: {}\n\n", data);
    bytes_ += event.size();
    healthy_ = !await(options_.write_timeout_s, [&](auto done) {
      net::async_write(stream_, http::make_chunk(net::buffer(event)), done);
    });
    return healthy_;
  }

  bool client_gone() override {
    if (!healthy_) return true;
    if (stopping_)
      return false;  // our own shutdown closed the reading side; writes still reach the client
    pollfd p{fd_, POLLRDHUP, 0};
    // Gone for good: finish() then neither writes the last chunk (which the kernel may still accept)
    // nor logs the request as a whole answer.
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) healthy_ = false;
    return !healthy_;
  }

 private:
  // After answering a request whose body is left unread: reads and drops what the client still
  // sends (for a few seconds, a few MiB), since closing with unread input resets the connection and
  // the client could lose the answer.
  void drain() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::vector<char> scratch(64 * 1024);
    for (size_t total = 0; total < (8u << 20);) {
      size_t n = 0;
      const auto ec = await(2, [&](auto done) {
        stream_.async_read_some(net::buffer(scratch),
                                [&n, done](error_code e, size_t got) { n = got, done(e, got); });
      });
      if (ec) return;
      total += n;
    }
  }

  // Runs one async operation to completion on this thread, cancelled after timeout_s seconds.
  template <class Start>
  error_code await(int timeout_s, Start start) {
    error_code result = net::error::operation_aborted;
    stream_.expires_after(std::chrono::seconds(timeout_s));
    start([&](error_code ec, size_t) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  int fd_;
  net::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  const HttpServerOptions& options_;
  const std::atomic<bool>& stopping_;
  HttpRequest request_;
  unsigned version_ = 11;
  bool keep_alive_ = false, responded_ = false, streaming_ = false, healthy_ = true;
  int status_ = 0;
  size_t bytes_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

HttpServer::HttpServer(const HttpServerOptions& options, HttpHandler handler)
    : options_(options), handler_(std::move(handler)), impl_(std::make_unique<Impl>()) {
  if (options.port < 0 || options.port > 65535)
    fail("--port must be 0..65535, not {}", options.port);
  error_code ec;
  const auto address = net::ip::make_address(options.host, ec);
  if (ec)
    fail("--host '{}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for every interface)",
         options.host);
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on {}:{}: {}", options.host, options.port, ec.message());
  impl_->protocol = endpoint.protocol();
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::run() {
  auto& acceptor = impl_->acceptor;
  while (!stopping_) {
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      break;  // stop() shut the listening socket down
    }
    std::lock_guard lock(mutex_);
    const bool too_many = static_cast<int>(connections_.size()) >= options_.max_connections;
    connections_.insert(fd);  // run() waits for every connection's thread, these too
    std::thread([this, fd, too_many] { serve_connection(fd, too_many); }).detach();
  }
  std::unique_lock lock(mutex_);
  connections_done_.wait(lock, [&] { return connections_.empty(); });
}

void HttpServer::serve_connection(int fd, bool too_many) {
  {
    Connection connection(fd, impl_->protocol, options_, stopping_);
    if (too_many) {  // answered on its own thread, so a slow client cannot hold up accept
      if (connection.read_request()) {
        connection.error(503, "the server has too many connections; retry later");
        connection.finish();
      }
    }
    while (!too_many && connection.read_request()) {
      try {
        handler_(connection);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "alpha serve: a request failed: %s\n", e.what());
        if (!connection.responded())
          connection.error(500, fmt::format("internal error: {}", e.what()));
      }
      if (!connection.finish()) break;
    }
    // forgotten before the socket closes, so that stop() never shuts down a reused descriptor
    std::lock_guard lock(mutex_);
    connections_.erase(fd);
    connections_done_.notify_all();
  }
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);  // wakes the blocked accept
  std::lock_guard lock(mutex_);
  for (const int fd : connections_) ::shutdown(fd, SHUT_RD);  // ends idle keep-alive reads
}

}  // namespace alpha::serve
