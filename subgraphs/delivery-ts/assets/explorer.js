// Mounts GraphiQL (the UMD build, which reads window.React and window.ReactDOM) on
// #graphiql, sending operations to the page's data-endpoint with the headers typed into
// GraphiQL's Headers tab; they stay in this tab (not written to localStorage).
"use strict";

const container = document.getElementById("graphiql");
const endpoint = new URL(container.dataset.endpoint, window.location.href).href;

ReactDOM.createRoot(container).render(
  React.createElement(GraphiQL, { fetcher: GraphiQL.createFetcher({ url: endpoint }), shouldPersistHeaders: false }),
);
