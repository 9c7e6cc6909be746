document.getElementById("root").textContent = "Platform UI 1.0.0";
