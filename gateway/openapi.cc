#include "gateway/openapi.h"

#include <cstddef>

namespace sluice {

// Defined in the source cmake/embed_file.cmake generates from schemas/openapi.yaml.
extern const char kOpenApiYaml[];
extern const size_t kOpenApiYaml_size;

std::string_view OpenApiYaml() { return std::string_view(kOpenApiYaml, kOpenApiYaml_size); }

ApiReply OpenApiReply() {
  ApiReply r;
  r.content_type = "application/yaml";
  r.body = std::string(OpenApiYaml());
  return r;
}

}  // namespace sluice
