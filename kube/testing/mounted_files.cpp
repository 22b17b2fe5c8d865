#include "kube/testing/mounted_files.h"

#include <fstream>

namespace palisade::kube::testing {

void MountedFiles::publish(const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_);
  const std::string version = "..v" + std::to_string(++version_);
  fs::create_directory(dir_ / version);
  for (const auto& [name, contents] : files) {
    std::ofstream(dir_ / version / name, std::ios::binary) << contents;
    if (!fs::is_symlink(dir_ / name)) {
      fs::create_symlink(fs::path("..data") / name, dir_ / name);
    }
  }
  fs::remove(dir_ / "..data_tmp");
  fs::create_directory_symlink(version, dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");  // atomic
  if (version_ > 1) {
    fs::remove_all(dir_ / ("..v" + std::to_string(version_ - 1)));
  }
}

}  // namespace palisade::kube::testing
