// The RPC agent, sans-IO: request ids, client-side timeouts, EXCEPTION replies, and sendWithRetries with
// PyTorch's schedule (rref-protocol.md §2, §9.1). Timers fire in (time, insertion sequence) order.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {
namespace {

// computeNewRpcRetryTime: duration * backoff^retry_count, truncated to whole milliseconds as PyTorch's
// static_cast<long> of a millisecond count does. Repeated multiplication by 1.5 is exact in double for these counts.
TimeUs RetryDelay(const RetryOptions& options, int retry_count) {
  double delay_ms = static_cast<double>(options.duration / kMillisecond);
  for (int i = 0; i < retry_count; ++i) delay_ms *= options.backoff;
  return static_cast<TimeUs>(static_cast<long>(delay_ms)) * kMillisecond;
}

}  // namespace

std::int64_t Worker::Impl::SendOnce(Message message, TimeUs timeout, Purpose purpose) {
  if (hardened()) return HardenedSend(std::move(message), timeout, std::move(purpose));
  message.id = next_message_id++;
  message.from = config.id;
  Attempt attempt;
  attempt.to = message.to;
  attempt.type = message.type;
  attempt.timeout = timeout;
  if (timeout > 0) attempt.deadline = now + timeout;
  attempt.seq = next_seq++;
  attempt.purpose = std::move(purpose);
  if (attempt.deadline) timers.insert({*attempt.deadline, attempt.seq, message.id, false});
  attempts.emplace(message.id, std::move(attempt));
  ++client_active_calls;
  out->messages.push_back({std::move(message), false, -1});
  return out->messages.back().message.id;
}

// RpcAgent::sendWithRetries: the first retry time is computed before the first send.
std::int64_t Worker::Impl::SendWithRetries(Message message, Purpose purpose) {
  if (hardened()) return HardenedSend(std::move(message), 0, std::move(purpose));  // no budget, no timeout
  std::int64_t retry_id = next_retry_id++;
  RetryEntry entry;
  entry.message = std::move(message);
  entry.purpose = std::move(purpose);
  entry.next_time = now + RetryDelay(config.retry, 0);
  retries.emplace(retry_id, std::move(entry));
  SendAttempt(retry_id, config.default_timeout, /*from_retry_thread=*/false);
  return retry_id;
}

void Worker::Impl::SendAttempt(std::int64_t retry_id, TimeUs timeout, bool from_retry_thread) {
  RetryEntry& entry = retries.at(retry_id);
  Message m = entry.message;
  m.id = next_message_id++;
  m.from = config.id;
  if (config.retry_payload == RetryPayload::kTensorPipe && entry.written_attempts > 0) {
    // tensorpipeSerialize moved the payload out of the shared Message when an earlier attempt was written.
    Message empty;
    empty.type = m.type;
    empty.id = m.id;
    empty.from = m.from;
    empty.to = m.to;
    empty.empty_payload = true;
    m = std::move(empty);
  }
  ++entry.written_attempts;  // SendFailed takes it back if the transport refused the attempt
  Attempt attempt;
  attempt.to = m.to;
  attempt.type = m.type;
  attempt.timeout = timeout;
  if (timeout > 0) attempt.deadline = now + timeout;
  attempt.seq = next_seq++;
  attempt.retry_id = retry_id;
  attempt.from_retry_thread = from_retry_thread;
  if (attempt.deadline) timers.insert({*attempt.deadline, attempt.seq, m.id, false});
  attempts.emplace(m.id, std::move(attempt));
  ++client_active_calls;
  out->messages.push_back({std::move(m), true, retry_id});
}

void Worker::Impl::SendResponse(const Message& request, Message response) {
  response.id = request.id;
  response.from = config.id;
  response.to = request.from;
  response.seq = request.seq;  // 0 in pytorch mode
  if (hardened()) CacheReply(request, response);
  out->messages.push_back({std::move(response), false, -1});
}

// RequestCallbackNoPython::handleError, for a request whose processing threw synchronously (processMessage's and
// processRpcWithErrors's catch): log, then an EXCEPTION reply naming this node.
void Worker::Impl::ReplyException(const Message& request, const std::string& what) {
  LogLine(LogLevel::kError, "Received error while processing request type " +
                                std::to_string(static_cast<int>(request.type)) + ": " + what);
  Message reply;
  reply.type = MessageType::EXCEPTION;
  reply.error = "Error on Node " + std::to_string(config.id) + ": " + what;
  SendResponse(request, std::move(reply));
}

// The request's response future completed with an error (asFuture(exception), a throw inside a then() callback):
// TensorPipeAgent's sendCompletedResponseMessage answers createExceptionResponse(tryRetrieveErrorMessage()), with
// the raw text and no log line.
void Worker::Impl::ReplyFutureError(const Message& request, const std::string& what) {
  Message reply;
  reply.type = MessageType::EXCEPTION;
  reply.error = what;
  SendResponse(request, std::move(reply));
}

void Worker::Impl::OnResponse(const Message& response) {
  if (hardened()) return OnHardenedResponse(response);
  auto it = attempts.find(response.id);
  if (it == attempts.end() || it->second.to != response.from) {
    LogLine(LogLevel::kInfo, "Ignoring response " + Describe(response) + ": no request is waiting for it");
    return;
  }
  if (response.type == MessageType::EXCEPTION) {
    OnAttemptDone(response.id, nullptr, response.error, Site::kPool);
  } else {
    OnAttemptDone(response.id, &response, "", Site::kPool);
  }
}

// One attempt's future completed: with `response`, or with `error` when response is null.
void Worker::Impl::OnAttemptDone(std::int64_t id, const Message* response, const std::string& error, Site site) {
  Attempt attempt = std::move(attempts.at(id));
  attempts.erase(id);
  if (attempt.deadline) timers.erase({*attempt.deadline, attempt.seq, id, false});
  last_callback_threw = false;
  callback_held_by_function = false;
  if (attempt.retry_id) {
    RetryCallback(*attempt.retry_id, response, error, site);
  } else {
    Complete(attempt.purpose, response, error, site);
  }
  // TensorPipe's pool task decrements clientActiveCalls_ after the callbacks; a throw skips it (§9.3), and a gated
  // function that a callback started inline keeps the task (and the decrement) until it finishes (§9.4).
  if (site == Site::kPool && !last_callback_threw && !callback_held_by_function) --client_active_calls;
}

// rpcRetryCallback.
void Worker::Impl::RetryCallback(std::int64_t retry_id, const Message* response, const std::string& error,
                                 Site site) {
  RetryEntry& entry = retries.at(retry_id);
  if (response != nullptr) {
    Purpose purpose = entry.purpose;
    retries.erase(retry_id);
    Complete(purpose, response, "", site);
    return;
  }
  LogLine(LogLevel::kInfo, "Send try " + std::to_string(entry.retry_count + 1) + " failed");
  std::string final_error;
  if (!agent_running) {
    // PyTorch builds "RPC Agent is no longer running on Node N. Cannot retry message." but never uses it: the
    // original future gets this attempt's own error.
    final_error = error;
  } else if (entry.retry_count < config.retry.max_retries) {
    entry.scheduled = true;  // fires at next_time, computed when this attempt was sent
    entry.seq = next_seq++;
    timers.insert({entry.next_time, entry.seq, retry_id, true});
    return;
  } else {
    final_error = "The RPC has not succeeded after the specified number of max retries (" +
                  std::to_string(config.retry.max_retries) + ").";
  }
  Purpose purpose = entry.purpose;
  retries.erase(retry_id);
  Complete(purpose, nullptr, final_error, site);
}

// The retry thread (retryExpiredRpcs) and TensorPipe's timeout thread (pollTimeoutRpcs) loop while
// rpcAgentRunning_; after RpcAgent::shutdown they have exited: scheduled retries are never resent and outstanding
// attempts never time out, so their original futures stay incomplete.
namespace {
// Attempt timeouts are TensorPipe's (completed on the pool); retries are the agent's retry thread's.
bool Matches(bool retry, Timers which) {
  return which == Timers::kAll || (retry ? which == Timers::kAgentThreads : which == Timers::kTimeouts);
}
}  // namespace

// hardened: resends go on after StopAgent. A stopped worker may still have to send (a delete its owner side
// triggers), and a request it never resends would leave its receiver's state behind forever.
void Worker::Impl::FireDueTimers(Timers which) {
  if (!agent_running && !hardened()) return;
  for (;;) {
    auto due = timers.begin();
    while (due != timers.end() && due->time <= now && !Matches(due->retry, which)) ++due;
    if (due == timers.end() || due->time > now || aborted) return;
    Timer timer = *due;
    timers.erase(due);
    if (timer.hardened) {
      if (timer.retry) {
        Resend(timer.id);
      } else {
        ApplicationDeadline(timer.id);
      }
    } else if (timer.retry) {
      // retryExpiredRpcs: resend, then compute the next retry time from the count before incrementing it.
      retries.at(timer.id).scheduled = false;
      SendAttempt(timer.id, config.default_timeout, /*from_retry_thread=*/true);
      RetryEntry& after = retries.at(timer.id);
      after.next_time = now + RetryDelay(config.retry, after.retry_count);
      ++after.retry_count;
    } else {
      Attempt& attempt = attempts.at(timer.id);
      attempt.deadline.reset();  // its timer is the one firing
      OnAttemptDone(timer.id, nullptr, TimeoutErrorText(attempt.timeout), Site::kPool);
    }
  }
}

std::optional<TimeUs> Worker::Impl::NextDeadline(Timers which) const {
  std::optional<TimeUs> next;
  if (agent_running || hardened()) {  // no timer thread is left after a stop (pytorch)
    for (const Timer& t : timers) {
      if (Matches(t.retry, which)) {
        next = t.time;
        break;
      }
    }
  }
  bool shutdown_waiting = (shutdown == ShutdownStage::kWaitUsers || shutdown == ShutdownStage::kWaitOwners) &&
                          !hardened();  // hardened's waits have no deadline
  if (shutdown_waiting && which != Timers::kTimeouts && (!next || shutdown_deadline < *next)) next = shutdown_deadline;
  return next;
}

// Runs the callbacks of an RPC's original future. A throw aborts the rest of them; what it does next depends on
// the thread they run on (§9.3).
void Worker::Impl::Complete(const Purpose& purpose, const Message* response, const std::string& error, Site site) {
  try {
    RunCallback(purpose, response, error, site);
  } catch (const ProtocolException& e) {
    last_callback_threw = true;
    switch (site) {
      case Site::kPool:
        LogLine(LogLevel::kError, std::string("Exception in thread pool task: ") + e.what());
        Error(e, ErrorSite::kPoolCallback);
        break;
      case Site::kRetryThread:
        Error(e, ErrorSite::kRetryThread);
        aborted = true;
        Emit(WorkerAborted{std::string("terminate called after throwing an instance of 'c10::Error'\n  what():  ") +
                           e.what()});
        break;
      case Site::kInline:
        Error(e, ErrorSite::kCaller);
        break;
    }
  }
}

}  // namespace rrefsim::core
