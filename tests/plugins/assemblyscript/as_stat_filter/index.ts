// as_stat_filter: the seed's stat filter, written against @solo-io/proxy-runtime 0.1.8.
//
// At VM start (RootContext.onStart) it defines two counters; every
// request-headers callback adds one to the first, every response-headers
// callback adds one to the second. root_id must be "as_stat_filter".
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext,
  Context,
  registerRootContext,
  FilterHeadersStatusValues,
  Counter,
} from "@solo-io/proxy-runtime";

let num_of_request: Counter | null = null;
let num_of_response: Counter | null = null;

class StatFilterRoot extends RootContext {
  onStart(vm_configuration_size: usize): bool {
    // Counter's constructor calls proxy_define_metric and aborts if it fails.
    num_of_request = new Counter("stat_filter.custom_metric.num_of_request");
    num_of_response = new Counter("stat_filter.custom_metric.num_of_response");
    return true;
  }

  createContext(context_id: u32): Context {
    return new StatFilter(context_id, this);
  }
}

class StatFilter extends Context {
  constructor(context_id: u32, root_context: StatFilterRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    (num_of_request as Counter).increment(1);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(num_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    (num_of_response as Counter).increment(1);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => {
  return new StatFilterRoot(context_id);
}, "as_stat_filter");
