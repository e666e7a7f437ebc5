// See cclblast_parameters.h.
#include "cclblast_parameters.h"

#include <clblast.h>

#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

extern "C" int cclblast_retrieve_parameters(cl_device_id device, const char *kernel_name, char *buffer,
                                            size_t capacity) {
    std::unordered_map<std::string, size_t> parameters;
    const auto status = clblast::RetrieveParameters(device, kernel_name, clblast::Precision::kSingle, parameters);
    if (status != clblast::StatusCode::kSuccess) return static_cast<int>(status);
    std::string text;
    for (const auto &entry : std::map<std::string, size_t>(parameters.begin(), parameters.end())) {
        text += entry.first + "=" + std::to_string(entry.second) + "\n";
    }
    if (text.size() + 1 > capacity) return -1;
    std::memcpy(buffer, text.c_str(), text.size() + 1);
    return 0;
}
