#pragma once

#include "policy/objects.h"

namespace palisade::policy {

// Whether `labels` satisfy `selector`, with the semantics of
// metav1.LabelSelectorAsSelector: every matchLabels entry and every
// matchExpressions requirement must hold, so the empty selector matches every
// set of labels.
//   In            the key is present and its value is one of `values`
//   NotIn         the key is absent, or its value is none of `values`
//   Exists        the key is present
//   DoesNotExist  the key is absent
// A selector the apiserver would not accept (an unknown operator, In or NotIn
// without values, Exists or DoesNotExist with values) matches nothing, which
// is how Kubernetes' own consumers treat a selector that fails to convert.
// Where the API makes a selector optional, deciding what an absent selector
// means is the caller's job.
bool selectorMatches(const LabelSelector& selector, const Labels& labels);

// False when selectorMatches would reject the selector outright, for the
// reasons listed above.
bool selectorIsWellFormed(const LabelSelector& selector);

}  // namespace palisade::policy
