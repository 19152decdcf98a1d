#pragma once

#include <cstddef>

namespace sluice {

// One file of the dashboard as compiled into the binary (cmake/embed_dashboard.cmake).
struct DashboardFile {
  const char* path;  // relative to gateway/dashboard/: "index.html", "pages/jobs.js"
  const char* bytes;
  size_t size;
  const char* sha256;  // lower-case hex of the bytes
};

// Every file, sorted by path, then an entry whose path is null.
extern const DashboardFile kDashboardFiles[];
extern const size_t kDashboardFileCount;

}  // namespace sluice
