// plotly.js 4.1.1 con solo lo que usa el libro: dispersión (en el núcleo), barras y mapas de calor.
var Plotly = require('plotly.js/lib/core');
Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/locales/es'),
]);
module.exports = Plotly;
