// Internal: the files of scenarios/catalog/, compiled in by scenarios/cmake/embed_catalog.cmake (the generated
// catalog_files.cc in the build tree), in file-name order.
#pragma once

#include <string_view>
#include <vector>

namespace rrefsim::scenarios::detail {

struct CatalogFile {
  std::string_view name;  // "s1_remote_to_here.json"
  std::string_view text;  // the file's bytes
};

const std::vector<CatalogFile>& CatalogFiles();

}  // namespace rrefsim::scenarios::detail
