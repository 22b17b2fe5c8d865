#pragma once

// Validation of Kubernetes objects as the kube-apiserver does it, with the
// same field paths and messages (k8s.io/apimachinery/pkg/util/validation/field):
//   spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
// An object the apiserver would reject is rejected here with the error it
// would print, so that Palisade users see the same words at `kubectl apply`
// and in `palisadectl validate`.

#include <string>
#include <string_view>
#include <vector>

#include "policy/objects.h"

namespace palisade::policy {

struct FieldError {
  enum class Type {
    kRequired,      // "Required value"
    kInvalid,       // "Invalid value"
    kNotSupported,  // "Unsupported value"
    kForbidden,     // "Forbidden"
    kDuplicate,     // "Duplicate value"
    kTooLong,       // "Too long"
    kTooMany,       // "Too many"
  };
  Type type = Type::kInvalid;
  std::string field;      // "spec.ingress[0].ports[0].port"
  std::string bad_value;  // rendered as the apiserver renders it: "0", "\"abc\""; may be empty
  std::string detail;     // "must be between 1 and 65535, inclusive"

  // The message after the field path: `Invalid value: 0: must be ...`.
  std::string body() const;
  // `field: body()`, the apiserver's field.Error.Error().
  std::string toString() const;
};

using FieldErrors = std::vector<FieldError>;

// The whole object, metadata included, as a CREATE would be validated.
FieldErrors validateNetworkPolicy(const NetworkPolicy& policy);
FieldErrors validateNamespace(const Namespace& ns);
// Pod metadata only (name, namespace, labels, annotations) and the container
// ports NetworkPolicy named ports resolve against; the rest of a pod spec is
// not Palisade's business.
FieldErrors validatePod(const Pod& pod);

FieldErrors validateLabelSelector(const LabelSelector& selector, std::string_view field);
FieldErrors validateLabels(const Labels& labels, std::string_view field);

// The syntax checks of k8s.io/apimachinery/pkg/util/validation: each returns
// the apiserver's messages, none when the value is valid.
std::vector<std::string> isQualifiedName(std::string_view value);  // label and annotation keys
std::vector<std::string> isValidLabelValue(std::string_view value);
std::vector<std::string> isDns1123Label(std::string_view value);
std::vector<std::string> isDns1123Subdomain(std::string_view value);
std::vector<std::string> isValidPortName(std::string_view value);
std::vector<std::string> isValidPortNum(int64_t port);

}  // namespace palisade::policy
