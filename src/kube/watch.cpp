#include "kube/watch.hpp"

#include <random>

#include <fmt/format.h>

namespace kp::kube {

struct WatchStream::State {
  Clock* clock = nullptr;
  std::string path;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<WatchEvent> events;
  std::string partial;  // an incomplete line
  std::optional<ApiError> error;
  bool closed = false;
  std::uint64_t id = 0;
  std::string resource_version;
};

std::string_view to_string(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::added:
      return "ADDED";
    case WatchEvent::Type::modified:
      return "MODIFIED";
    case WatchEvent::Type::deleted:
      return "DELETED";
    case WatchEvent::Type::bookmark:
      return "BOOKMARK";
  }
  return "?";
}

ApiResult<WatchEvent> parse_watch_line(std::string_view line, std::string_view path) {
  json doc = json::parse(line, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("type") || !doc["type"].is_string()) {
    return api_fail(ApiError{
        Error{ErrorKind::protocol, fmt::format("watch {}: garbled event line ({} bytes)", path, line.size())},
        0, "BadResponse", ""});
  }
  std::string type = doc["type"].get<std::string>();
  json object = doc.contains("object") ? doc["object"] : json::object();
  if (type == "ERROR") {
    // A Status; a server or proxy that sends anything else still ends the watch with an error, not a crash.
    ApiError error;
    std::string message;
    if (object.is_object()) {
      if (auto code = object.find("code"); code != object.end() && code->is_number_integer()) {
        error.code = code->get<long>();
      }
      if (auto reason = object.find("reason"); reason != object.end() && reason->is_string()) {
        error.reason = reason->get<std::string>();
      }
      if (auto text = object.find("message"); text != object.end() && text->is_string()) {
        message = text->get<std::string>();
      }
    }
    ErrorKind kind = error.code == 410 ? ErrorKind::unavailable : ErrorKind::protocol;
    error.error = Error{kind, fmt::format("watch {}: {} {}: {}", path, error.code, error.reason, message)};
    return api_fail(std::move(error));
  }
  WatchEvent event;
  if (type == "ADDED") {
    event.type = WatchEvent::Type::added;
  } else if (type == "MODIFIED") {
    event.type = WatchEvent::Type::modified;
  } else if (type == "DELETED") {
    event.type = WatchEvent::Type::deleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEvent::Type::bookmark;
  } else {
    return api_fail(
        ApiError{Error{ErrorKind::protocol, fmt::format("watch {}: unknown event type \"{}\"", path, type)},
                 0, "BadResponse", ""});
  }
  event.object = std::move(object);
  return event;
}

std::string event_resource_version(const WatchEvent& event) {
  if (!event.object.is_object()) {
    return "";
  }
  auto metadata = event.object.find("metadata");
  if (metadata == event.object.end() || !metadata->is_object()) {
    return "";
  }
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : "";
}

namespace {

// Parses one line of the stream into the state (called with the state's mutex held).
void take_line(WatchStream::State& state, std::string_view line) {
  if (line.empty() || state.error) {
    return;
  }
  ApiResult<WatchEvent> event = parse_watch_line(line, state.path);
  if (!event) {
    state.error = std::move(event.error());
    return;
  }
  event->observed = state.clock->now();
  event->observed_wall = state.clock->wall_now();
  if (std::string rv = event_resource_version(*event); !rv.empty()) {
    state.resource_version = std::move(rv);
  }
  state.events.push_back(std::move(*event));
}

}  // namespace

int watch_timeout_seconds(int requested) {
  if (requested > 0) {
    return requested;
  }
  thread_local std::mt19937 random(std::random_device{}());
  return std::uniform_int_distribution<int>(300, 599)(random);
}

Request watch_request(const Resource& resource, std::string_view ns, const WatchOptions& options) {
  std::string path = resource_path(resource, ns) + "?watch=true";
  if (options.bookmarks) {
    path += "&allowWatchBookmarks=true";
  }
  if (!options.resource_version.empty()) {
    path += "&resourceVersion=" + query_escape(options.resource_version);
  }
  if (!options.label_selector.empty()) {
    path += "&labelSelector=" + query_escape(options.label_selector);
  }
  if (!options.field_selector.empty()) {
    path += "&fieldSelector=" + query_escape(options.field_selector);
  }
  const int timeout = watch_timeout_seconds(options.timeout_seconds);
  path += fmt::format("&timeoutSeconds={}", timeout);
  Request request;
  request.path = std::move(path);
  request.timeout = std::chrono::seconds(timeout) + options.stall_timeout;
  request.stall_timeout = options.stall_timeout;
  request.retry = false;
  request.rate_limited = false;
  return request;
}

std::unique_ptr<WatchStream> WatchStream::open(Transport& transport, Clock& clock, const Resource& resource,
                                               std::string_view ns, const WatchOptions& options) {
  auto state = std::make_shared<State>();
  state->clock = &clock;
  Request request = watch_request(resource, ns, options);
  state->path = request.path;
  state->resource_version = options.resource_version;
  std::weak_ptr<State> weak = state;
  request.on_data = [weak](std::string_view data) {
    std::shared_ptr<State> state = weak.lock();
    if (!state) {
      return false;
    }
    std::lock_guard lock(state->mutex);
    state->partial.append(data);
    std::size_t start = 0;
    while (true) {
      std::size_t end = state->partial.find('\n', start);
      if (end == std::string::npos) {
        break;
      }
      take_line(*state, std::string_view(state->partial).substr(start, end - start));
      start = end + 1;
    }
    state->partial.erase(0, start);
    state->changed.notify_all();
    return !state->error.has_value();
  };
  state->id = transport.submit(std::move(request), [weak](Result<Response> response) {
    std::shared_ptr<State> state = weak.lock();
    if (!state) {
      return;
    }
    std::lock_guard lock(state->mutex);
    if (!state->error) {
      if (!response) {
        if (response.error().kind != ErrorKind::cancelled) {
          state->error = ApiError{response.error(), 0, "", ""};
        }
      } else if (response->status < 200 || response->status >= 300) {
        state->error = status_error("GET", state->path, *response);
      } else if (!state->partial.empty()) {
        // The stream ended inside an event: truncated.
        take_line(*state, state->partial);
        state->partial.clear();
      }
    }
    state->closed = true;
    state->changed.notify_all();
  });
  return std::unique_ptr<WatchStream>(new WatchStream(transport, state));
}

WatchStream::~WatchStream() {
  stop();
}

void WatchStream::stop() {
  bool closed = false;
  {
    std::lock_guard lock(state_->mutex);
    closed = state_->closed;
  }
  if (!closed) {
    transport_.cancel(state_->id);
  }
}

std::string WatchStream::resource_version() const {
  std::lock_guard lock(state_->mutex);
  return state_->resource_version;
}

ApiResult<WatchStream::Next> WatchStream::next(TimePoint deadline) {
  std::unique_lock lock(state_->mutex);
  while (true) {
    if (!state_->events.empty()) {
      Next next{Status::event, std::move(state_->events.front())};
      state_->events.pop_front();
      return next;
    }
    if (state_->error) {
      return api_fail(*state_->error);
    }
    if (state_->closed) {
      return Next{Status::closed, {}};
    }
    TimePoint now = state_->clock->now();
    if (now >= deadline) {
      return Next{Status::idle, {}};
    }
    // The stream's clock is the real one in practice; wait in real time, bounded, and re-check.
    state_->changed.wait_for(lock, std::min<Duration>(deadline - now, std::chrono::milliseconds(100)));
  }
}

Reflector::Reflector(Transport& transport, Clock& clock, Resource resource, std::string ns,
                     std::string label_selector, Handler handler)
    : transport_(transport),
      clock_(clock),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      label_selector_(std::move(label_selector)),
      handler_(std::move(handler)) {}

Reflector::~Reflector() {
  stop();
}

void Reflector::start() {
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (stream_) {
      stream_->stop();
    }
  }
  changed_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

int Reflector::lists() const {
  std::lock_guard lock(mutex_);
  return lists_;
}
int Reflector::gone() const {
  std::lock_guard lock(mutex_);
  return gone_;
}
int Reflector::bookmarks() const {
  std::lock_guard lock(mutex_);
  return bookmarks_;
}
bool Reflector::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}
std::string Reflector::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

bool Reflector::wait_synced(TimePoint deadline) {
  std::unique_lock lock(mutex_);
  while (!synced_ && !stopping_) {
    TimePoint now = clock_.now();
    if (now >= deadline) {
      return false;
    }
    changed_.wait_for(lock, std::min<Duration>(deadline - now, std::chrono::milliseconds(100)));
  }
  return synced_;
}

void Reflector::run() {
  Api api(transport_);
  std::string resource_version;
  int failures = 0;
  auto stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  // Backs off after failures without sleeping blind: wakes at once on stop().
  auto back_off = [&] {
    ++failures;
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(std::min(100 << std::min(failures, 5), 2000)),
                      [this] { return stopping_; });
  };
  while (!stopping()) {
    if (resource_version.empty()) {
      ListOptions list_options;
      list_options.label_selector = label_selector_;
      ApiResult<ListResult> listed = api.list(resource_, ns_, list_options);
      {
        std::lock_guard lock(mutex_);
        ++lists_;
      }
      if (!listed) {
        std::lock_guard lock(mutex_);
        last_error_ = listed.error().error.message;
      }
      if (!listed) {
        back_off();
        continue;
      }
      TimePoint now = clock_.now();
      WallTime wall = clock_.wall_now();
      for (json& item : listed->items) {
        handler_(WatchEvent{WatchEvent::Type::added, std::move(item), now, wall, true});
      }
      resource_version = listed->resource_version;
      {
        std::lock_guard lock(mutex_);
        synced_ = true;
      }
      changed_.notify_all();
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        break;
      }
      WatchOptions watch_options;
      watch_options.resource_version = resource_version;
      watch_options.label_selector = label_selector_;
      stream_ = WatchStream::open(transport_, clock_, resource_, ns_, watch_options);
    }
    WatchStream* stream = stream_.get();
    while (true) {
      ApiResult<WatchStream::Next> next = stream->next(clock_.now() + std::chrono::milliseconds(200));
      if (!next) {
        if (next.error().code == 410) {
          std::lock_guard lock(mutex_);
          ++gone_;
          resource_version.clear();  // relist
        } else {
          std::lock_guard lock(mutex_);
          last_error_ = next.error().error.message;
        }
        break;
      }
      if (next->status == WatchStream::Status::closed) {
        failures = 0;
        break;
      }
      if (next->status == WatchStream::Status::idle) {
        if (stopping()) {
          break;
        }
        continue;
      }
      failures = 0;
      if (next->event.type == WatchEvent::Type::bookmark) {
        std::lock_guard lock(mutex_);
        ++bookmarks_;
      } else {
        handler_(next->event);
      }
      std::string rv = stream->resource_version();
      if (!rv.empty()) {
        resource_version = rv;
      }
    }
    {
      std::lock_guard lock(mutex_);
      stream_.reset();
    }
    if (!stopping() && !resource_version.empty() && !last_error().empty()) {
      back_off();
    }
  }
}

}  // namespace kp::kube
