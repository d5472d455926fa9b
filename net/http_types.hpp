#pragma once

#include "core/messages.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::net {

// The request and response travel between actors, so they live with the
// other message types in the ground floor.
using http_request = herald::http_request;
using http_response = herald::http_response;

/// Sends the response of one request. Call exactly once, from any thread.
using responder = std::function<void(http_response)>;

/// Handles one request; may answer later, from another thread.
using request_handler = std::function<void(http_request, responder)>;

} // namespace herald::net
