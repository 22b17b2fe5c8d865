#include "kube/error.h"

namespace palisade::kube {

std::string ApiError::describe() const {
  std::string text = request.empty() ? std::string() : request + ": ";
  if (kind == Kind::kStatus) {
    text += std::to_string(code);
    if (!reason.empty()) {
      text += " " + reason;
    }
    if (!message.empty()) {
      text += ": " + message;
    }
    return text;
  }
  return text + message;
}

// As the apiserver's own mapping (k8s.io/apimachinery/pkg/api/errors) names
// them.
std::string reasonForStatusCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

}  // namespace palisade::kube
