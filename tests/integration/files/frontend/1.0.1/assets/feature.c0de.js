export function render(root) { root.textContent = undefinedVariable.name; }
