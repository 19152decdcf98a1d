#pragma once

#include <string_view>

#include "gateway/api.h"

namespace sluice {

// schemas/openapi.yaml as it was when this binary was built (embedded by CMake, so that it is
// served whatever the install location).
std::string_view OpenApiYaml();

// The answer of GET /openapi.yaml: the description above, as application/yaml.
ApiReply OpenApiReply();

}  // namespace sluice
