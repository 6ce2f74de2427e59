#include "drivers/etcd/grpc_transport.hpp"

#include <algorithm>
#include <vector>

#include <grpc/support/time.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_unary_call.h>

#include "etcd_rpc.grpc.pb.h"

namespace kp::drivers::etcd {
namespace {

gpr_timespec after(Duration timeout) {
  return gpr_time_from_nanos(std::max<std::int64_t>(0, timeout.count()), GPR_TIMESPAN);
}

// One client slot: one request in flight at a time, its messages reused.
struct Call {
  std::size_t slot = 0;
  etcdserverpb::KV::Stub* stub = nullptr;
  std::optional<grpc::ClientContext> context;
  etcdserverpb::PutRequest put;
  etcdserverpb::PutResponse put_response;
  etcdserverpb::RangeRequest range;
  etcdserverpb::RangeResponse range_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range_reader;
  grpc::Status status;
  bool busy = false;
};

class GrpcTransport final : public KvTransport {
 public:
  GrpcTransport(const std::vector<std::shared_ptr<grpc::Channel>>& channels, std::size_t slots,
                const std::string& value, bool serializable) {
    for (const auto& channel : channels) {
      stubs_.push_back(etcdserverpb::KV::NewStub(channel));
    }
    for (std::size_t i = 0; i < slots; ++i) {
      calls_.push_back(std::make_unique<Call>());
      Call& call = *calls_.back();
      call.slot = i;
      call.stub = stubs_[i % stubs_.size()].get();
      call.put.set_value(value);
      call.range.set_serializable(serializable);
    }
  }

  // A worker that failed mid-stage leaves calls in flight: end them now rather than at their deadlines.
  ~GrpcTransport() override {
    cancel_in_flight();
    shutdown();
  }

  void start(std::size_t slot, bool is_range, std::string_view key, Duration timeout) override {
    Call* call = calls_.at(slot).get();
    // The readers live in the call's arena, which the context owns: release them before the context.
    call->put_reader.reset();
    call->range_reader.reset();
    call->context.reset();
    call->context.emplace();
    call->context->set_deadline(after(timeout));
    call->busy = true;
    if (is_range) {
      call->range.set_key(key.data(), key.size());
      call->range_reader = call->stub->PrepareAsyncRange(&*call->context, call->range, &queue_);
      call->range_reader->StartCall();
      call->range_reader->Finish(&call->range_response, &call->status, call);
    } else {
      call->put.set_key(key.data(), key.size());
      call->put_reader = call->stub->PrepareAsyncPut(&*call->context, call->put, &queue_);
      call->put_reader->StartCall();
      call->put_reader->Finish(&call->put_response, &call->status, call);
    }
  }

  std::optional<Completion> next(Duration wait) override {
    void* tag = nullptr;
    bool ok = false;
    if (queue_.AsyncNext(&tag, &ok, after(wait)) != grpc::CompletionQueue::GOT_EVENT) {
      return std::nullopt;
    }
    Call* call = static_cast<Call*>(tag);
    call->busy = false;
    return Completion{.slot = call->slot,
                      .ok = call->status.ok(),
                      .code = static_cast<int>(call->status.error_code()),
                      .message = call->status.error_message()};
  }

  void cancel_in_flight() override {
    for (const auto& call : calls_) {
      if (call->busy) {
        call->context->TryCancel();
      }
    }
  }

  void shutdown() override {
    if (shut_down_) {
      return;
    }
    shut_down_ = true;
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
  }

 private:
  grpc::CompletionQueue queue_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs_;
  std::vector<std::unique_ptr<Call>> calls_;  // pointers: a call's address is its completion tag
  bool shut_down_ = false;
};

}  // namespace

TransportFactory grpc_transport_factory(const Connections& connections, std::string value,
                                        bool serializable) {
  return [&connections, value = std::move(value), serializable](int index, int workers, std::size_t slots) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (std::size_t c = static_cast<std::size_t>(index); c < connections.channels.size();
         c += static_cast<std::size_t>(std::max(1, workers))) {
      channels.push_back(connections.channels[c]);
    }
    return std::unique_ptr<KvTransport>(
        std::make_unique<GrpcTransport>(channels, slots, value, serializable));
  };
}

}  // namespace kp::drivers::etcd
