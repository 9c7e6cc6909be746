import("/assets/feature.c0de.js").then((m) => m.render(document.getElementById("root")));
