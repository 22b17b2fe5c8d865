#include "kube/token_source.h"

#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <sstream>

namespace palisade::kube {
namespace {

// What identifies a version of a mounted file: the kubelet publishes each
// version in a new folder and swaps a symlink, so the resolved path changes
// even when an inode number is reused; a file rewritten in place changes its
// size or modification time.
std::optional<std::string> identify(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) {  // stat follows the symlinks
    return std::nullopt;
  }
  std::error_code ec;
  const std::string resolved = std::filesystem::canonical(file, ec).string();
  std::ostringstream identity;
  identity << resolved << '|' << info.st_dev << '|' << info.st_ino << '|' << info.st_size << '|'
           << info.st_mtim.tv_sec << '.' << info.st_mtim.tv_nsec;
  return identity.str();
}

// The token in a file: surrounding whitespace (a trailing newline written by
// `echo`) is not part of it.
std::optional<std::string> readToken(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string text = contents.str();
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return std::string();
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::shared_ptr<TokenSource> TokenSource::fixed(std::string token) {
  std::shared_ptr<TokenSource> source(new TokenSource());
  source->token_ = std::move(token);
  return source;
}

policy::Result<std::shared_ptr<TokenSource>> TokenSource::fromFile(std::filesystem::path file,
                                                                   std::string origin) {
  const auto identity = identify(file);
  const auto token = readToken(file);
  if (!identity || !token) {
    return policy::fail(origin + ": cannot read the token file " + file.string());
  }
  if (token->empty()) {
    return policy::fail(origin + ": the token file " + file.string() + " is empty");
  }
  std::shared_ptr<TokenSource> source(new TokenSource());
  source->file_ = std::move(file);
  source->token_ = *token;
  source->identity_ = *identity;
  return source;
}

std::string TokenSource::token() {
  std::lock_guard lock(mutex_);
  if (file_.empty()) {
    return token_;
  }
  const auto identity = identify(file_);
  if (identity && *identity != identity_) {
    const auto token = readToken(file_);
    // Recheck: the file may have been swapped again while it was read.
    if (token && !token->empty() && identify(file_) == identity) {
      token_ = *token;
      identity_ = *identity;
    }
  }
  return token_;
}

}  // namespace palisade::kube
