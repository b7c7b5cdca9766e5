// The plain-HTTP listener of a serve that speaks HTTPS (--http-redirect): every request
// is answered with a permanent redirect to the same target over HTTPS.
#pragma once

#include <cstdint>
#include <string>

#include "http/message.hpp"

namespace amphi::http {

// 308 (method and body kept) with Location:
//   httpsOrigin + target            when httpsOrigin ("https://host[:port]") is given,
//   https://<Host's host>[:port] + target otherwise, port omitted when 443;
// fallbackHost stands in for a missing or malformed Host header. A target that is not
// origin-form ("/…") becomes "/".
Response redirectToHttps(const Request& req, const std::string& httpsOrigin,
                         const std::string& fallbackHost, uint16_t httpsPort);

}  // namespace amphi::http
