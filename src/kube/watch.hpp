#pragma once

// Watches as the API serves them: a chunked stream of JSON lines {"type":
// ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}, read as it arrives (a streaming reader, not a
// buffered body). An ERROR event carries a Status; code 410 (resourceVersion too old: the server compacted
// it) means "list again and watch from the list's resourceVersion" — Reflector does exactly that, as
// client-go's reflector does. Every event carries the moment it was read (steady and wall clock), which is
// what pod startup latency is measured from.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kube/api.hpp"

namespace kp::kube {

struct WatchEvent {
  enum class Type { added, modified, deleted, bookmark };
  Type type = Type::added;
  json object;
  TimePoint observed;
  WallTime observed_wall;
  bool from_list = false;  // a Reflector's (re)list, not a watch event
};
std::string_view to_string(WatchEvent::Type type);

// One line of a watch stream as the server sent it: the event (its observed times unset), or an ApiError for
// an ERROR event (its Status's code, reason and message; 410 is ErrorKind::unavailable), an unknown type or a
// line that is not a JSON object with a string "type". `path` names the watch in messages. Whatever the line
// holds, the answer is an event or an error, never an exception (the stream reads it on the transport
// thread).
ApiResult<WatchEvent> parse_watch_line(std::string_view line, std::string_view path);
// metadata.resourceVersion of the event's object; "" when it has none (or not as a string).
std::string event_resource_version(const WatchEvent& event);

// Nothing read on a watch for this long, not even a bookmark (kube-apiserver sends one about every minute to
// a watch that allows them), ends it as broken.
inline constexpr Duration kWatchStallTimeout = std::chrono::seconds(150);

struct WatchOptions {
  std::string resource_version;  // "" = start with the current state (synthetic ADDED events)
  std::string label_selector;
  std::string field_selector;
  bool bookmarks = true;
  // The server ends the watch after this (timeoutSeconds); 0 = a random 300..600 s, as client-go's reflector
  // asks, so that many watches do not end together and none outlives a server's connection limits.
  int timeout_seconds = 0;
  // Nothing read for this long ends the stream as broken (ErrorKind::timeout): a connection that died without
  // a FIN or RST is noticed. The callers then watch again from the last resourceVersion, which loses nothing.
  Duration stall_timeout = kWatchStallTimeout;
};

// `requested` when > 0, else a random 300..600 (client-go's minWatchTimeout x [1, 2)).
int watch_timeout_seconds(int requested);
// The watch's request: the path with watch=true and the options' query (timeoutSeconds always set, via
// watch_timeout_seconds), unretried and not rate-limited, the stall timeout, and a client-side bound of the
// server's timeout plus the stall timeout in case the server never ends it. on_data is the caller's.
Request watch_request(const Resource& resource, std::string_view ns, const WatchOptions& options);

class WatchStream {
 public:
  enum class Status { event, idle, closed };  // idle: the deadline passed with nothing new
  struct Next {
    Status status = Status::idle;
    WatchEvent event;
  };

  // Opens the watch (the request starts at once; errors show up in next()).
  static std::unique_ptr<WatchStream> open(Transport& transport, Clock& clock, const Resource& resource,
                                           std::string_view ns, const WatchOptions& options);
  ~WatchStream();  // stops the stream
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // The next event, waiting until `deadline`. A 410 is ApiError{code 410}; a non-200 answer or a broken
  // stream are errors too; a watch the server ended normally is Status::closed.
  ApiResult<Next> next(TimePoint deadline);
  void stop();
  // The resourceVersion of the last event or bookmark read (to resume from).
  std::string resource_version() const;

  struct State;

 private:
  WatchStream(Transport& transport, std::shared_ptr<State> state)
      : transport_(transport), state_(std::move(state)) {}
  Transport& transport_;
  std::shared_ptr<State> state_;
};

// List, then watch from the list's resourceVersion; on 410 list again; when a watch ends, watch again from
// the last resourceVersion seen (bookmarks keep it fresh). Events go to `handler` on the reflector's thread;
// listed objects arrive as `added` with from_list set.
class Reflector {
 public:
  using Handler = std::function<void(const WatchEvent&)>;
  Reflector(Transport& transport, Clock& clock, Resource resource, std::string ns, std::string label_selector,
            Handler handler);
  ~Reflector();  // stops and joins
  void start();
  void stop();
  int lists() const;      // lists made (1 + relists)
  int gone() const;       // 410s seen
  int bookmarks() const;  // bookmark events seen
  // Becomes true once the first list has been delivered.
  bool synced() const;
  // Waits until synced or deadline; true when synced.
  bool wait_synced(TimePoint deadline);
  std::string last_error() const;

 private:
  void run();
  Transport& transport_;
  Clock& clock_;
  Resource resource_;
  std::string ns_;
  std::string label_selector_;
  Handler handler_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool synced_ = false;
  int lists_ = 0;
  int gone_ = 0;
  int bookmarks_ = 0;
  std::string last_error_;
  std::unique_ptr<WatchStream> stream_;
  std::thread thread_;
};

}  // namespace kp::kube
