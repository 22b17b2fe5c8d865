#pragma once

// Why a call to the kube-apiserver failed. Distinguishes a request that got
// no HTTP answer (connection, TLS, timeout) from one the apiserver refused
// with a Status object, whose code and reason callers act on: AlreadyExists
// means the object is there, Conflict means re-read and retry, Gone means the
// resourceVersion is too old and the caller must list again.

#include <expected>
#include <string>

namespace palisade::kube {

struct ApiError {
  enum class Kind {
    kTransport,  // no HTTP answer: connect, TLS handshake, a broken connection
    kTimeout,    // no answer within the request's timeout, or a watch that stalled
    kCancelled,  // cancelled by another thread (an informer stopping)
    kStatus,     // the apiserver answered with an HTTP error (and usually a Status)
    kDecode,     // the answer was not what the API promises (JSON, object model)
    kInvalid,    // the call cannot be made as asked (a namespaced object without a namespace)
  };

  Kind kind = Kind::kTransport;
  int code = 0;            // the HTTP status for kStatus (Status.code); 0 otherwise
  std::string reason{};    // Status.reason ("NotFound", "AlreadyExists", "Conflict", "Expired")
  std::string message{};   // Status.message, or what went wrong
  std::string request{};   // "GET /api/v1/namespaces/a/pods/b"

  bool isStatus(int status_code) const { return kind == Kind::kStatus && code == status_code; }
  bool isNotFound() const { return isStatus(404); }
  bool isAlreadyExists() const { return isStatus(409) && reason == "AlreadyExists"; }
  // A write that lost a race (stale resourceVersion): read again and retry.
  bool isConflict() const { return isStatus(409) && reason != "AlreadyExists"; }
  // The resourceVersion asked for is older than the apiserver keeps (or a
  // list's continue token expired): list again from scratch.
  bool isGone() const { return isStatus(410); }
  bool isUnauthorized() const { return isStatus(401); }
  bool isForbidden() const { return isStatus(403); }

  // One line for a log or an error message:
  // `GET /api/v1/namespaces/a/pods/b: 404 NotFound: pods "b" not found`.
  std::string describe() const;
};

template <class T>
using ApiResult = std::expected<T, ApiError>;

inline std::unexpected<ApiError> apiFailure(ApiError::Kind kind, std::string message,
                                            std::string request = {}) {
  ApiError error;
  error.kind = kind;
  error.message = std::move(message);
  error.request = std::move(request);
  return std::unexpected<ApiError>(std::move(error));
}

// The metav1.StatusReason the apiserver uses for an HTTP status, for answers
// that carry no Status object (a proxy's error page): "NotFound" for 404.
std::string reasonForStatusCode(int code);

}  // namespace palisade::kube
