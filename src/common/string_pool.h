#pragma once
// Per-thread reuse of the buffers of strings made and dropped on every request (a response
// head waiting for its body, the copy of a request kept for a retry). take_pooled_string()
// hands out an empty string with the capacity of one given back earlier on this thread;
// give_back_pooled_string() keeps a bounded number of not-too-large ones. Under
// AddressSanitizer nothing is kept (see recycled.h).
#include <string>

namespace weir {

std::string take_pooled_string();
void give_back_pooled_string(std::string&& s);

}  // namespace weir
