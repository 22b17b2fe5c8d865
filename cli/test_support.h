#pragma once

// Helpers for the palisadectl command tests: manifests written to a private
// temporary folder, and a command's exit code with what it printed.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace palisade::cli::testing {

// A fresh folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "palisadectl-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to `name` (folders created as needed); returns the path.
  std::string write(std::string_view name, std::string_view text) const {
    const std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `command(options, out, err)` and collects what it printed.
template <class Options, class Command>
Run run(Command command, const Options& options) {
  std::ostringstream out;
  std::ostringstream err;
  Run result;
  result.exit_code = command(options, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace palisade::cli::testing
