// Mounts GraphiQL (the UMD build, which reads window.React and window.ReactDOM) on
// #graphiql, sending every operation to the page's data-endpoint with the headers
// the user enters in GraphiQL's Headers tab (an Authorization: Bearer token, say).
"use strict";

const container = document.getElementById("graphiql");
const endpoint = new URL(container.dataset.endpoint, window.location.href).href;
const fetcher = GraphiQL.createFetcher({ url: endpoint });

ReactDOM.createRoot(container).render(
  React.createElement(GraphiQL, {
    fetcher,
    // A token typed into the Headers tab stays in this tab; it is not written to localStorage.
    shouldPersistHeaders: false,
  }),
);
