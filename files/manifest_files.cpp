#include "files/manifest_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace palisade::files {
namespace {

namespace fs = std::filesystem;
using policy::Result;

bool isManifestFile(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

Result<std::string> readText(const fs::path& path) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return policy::fail(path.string() + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return policy::fail(path.string() + ": read failed: " + std::strerror(errno));
  }
  return text.str();
}

Result<std::vector<fs::path>> expand(const fs::path& path) {
  if (path == "-") {
    return std::vector<fs::path>{path};
  }
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec) {
    return policy::fail(path.string() + ": " + ec.message());
  }
  if (!fs::is_directory(status)) {
    return std::vector<fs::path>{path};
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(path, ec), end; it != end && !ec; it.increment(ec)) {
    if (it->is_regular_file() && isManifestFile(it->path())) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return policy::fail(path.string() + ": " + ec.message());
  }
  std::ranges::sort(files);
  return files;
}

}  // namespace

Result<policy::Manifest> readManifestPaths(const std::vector<fs::path>& paths) {
  policy::Manifest all;
  for (const fs::path& path : paths) {
    Result<std::vector<fs::path>> files = expand(path);
    if (!files) {
      return std::unexpected(files.error());
    }
    for (const fs::path& file : *files) {
      Result<std::string> text = readText(file);
      if (!text) {
        return std::unexpected(text.error());
      }
      policy::Manifest manifest = policy::readManifest(*text, file == "-" ? "<stdin>" : file.string());
      std::ranges::move(manifest.objects, std::back_inserter(all.objects));
      std::ranges::move(manifest.errors, std::back_inserter(all.errors));
    }
  }
  return all;
}

}  // namespace palisade::files
