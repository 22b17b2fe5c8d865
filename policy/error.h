#pragma once

#include <expected>
#include <string>
#include <utility>

namespace palisade::policy {

// The error side of every fallible call at a module boundary. The message is
// written for the person who has to act on it: it names the input (file,
// document, field path) and says what was expected.
struct Error {
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected<Error>(Error{std::move(message)});
}

}  // namespace palisade::policy
